package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite testdata/schema.golden.json from Schema()")

const schemaGolden = "testdata/schema.golden.json"

func TestSchemaCompiles(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	compileSchema(t, b)
}

func TestSchemaGolden(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	again, err := Schema()
	require.NoError(t, err)
	require.Equal(t, string(b), string(again), "Schema output must be stable")

	// The golden file holds what `greenlight schema` prints: the schema and a newline.
	got := append(b, '\n')
	if *updateSchema {
		require.NoError(t, os.WriteFile(schemaGolden, got, 0o644))
	}
	want, err := os.ReadFile(schemaGolden)
	require.NoError(t, err, "run go test ./specs -run TestSchemaGolden -update-schema")
	assert.Equal(t, string(want), string(got), "schema changed: rerun with -update-schema and review the diff")
}

// TestSchemaAcceptsLoadableSpecs: whatever Load accepts, the schema must accept too, or editors
// would mark valid specs as wrong.
func TestSchemaAcceptsLoadableSpecs(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	sch := compileSchema(t, b)

	files, err := filepath.Glob("testdata/schema/valid-*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	examples := 0
	err = filepath.WalkDir("../examples", func(path string, de fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if !de.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
			examples++
		}
		return nil
	})
	require.NoError(t, err)
	t.Logf("%d fixtures, %d example files", len(files)-examples, examples)

	for _, file := range files {
		t.Run(filepath.ToSlash(file), func(t *testing.T) {
			// Fixtures and examples alike must load: an example that does not is a bug too.
			if err := loadForSchemaTest(file); err != nil {
				t.Fatalf("does not load: %v", err)
			}
			for i, doc := range yamlDocuments(t, file) {
				if err := sch.Validate(doc); err != nil {
					t.Errorf("document %d loads but fails the schema:\n%v", i+1, err)
				}
			}
		})
	}
}

// TestSchemaRejects keeps one fixture per rule the schema enforces; each is also rejected by
// Load, so the two agree, and the schema's error is at the place Load would report.
func TestSchemaRejects(t *testing.T) {
	tests := []struct {
		file string
		// at is the JSON pointer of the offending value and keyword the schema keyword that
		// fails there; an empty at matches any location.
		at, keyword string
		// withExec registers a second step kind, exec, so that two kinds can be written.
		withExec bool
	}{
		{file: "unknown-field", at: "/steps/0", keyword: "additionalProperties"},
		{file: "wrong-type", at: "/steps/0/always", keyword: "pattern"},
		{file: "missing-step-name", at: "/steps/0", keyword: "required"},
		{file: "two-kinds", at: "/steps/0", keyword: "oneOf", withExec: true},
		{file: "check-two-kinds", at: "/checks/0", keyword: "oneOf"},
		{file: "no-kind", at: "/steps/0", keyword: "required"},
		{file: "missing-url", at: "/steps/0/http", keyword: "required"},
		{file: "missing-metadata-name", at: "/metadata", keyword: "required"},
		{file: "no-steps", at: "/steps", keyword: "minItems"},
		{file: "api-version", at: "/apiVersion", keyword: "const"},
		{file: "kind", at: "/kind", keyword: "enum"},
		{file: "duration-unit", at: "/timeout", keyword: "pattern"},
		{file: "method", at: "/steps/0/http/method", keyword: "enum"},
		{file: "retry-on", at: "/defaults/retries/on/1", keyword: "enum"},
		{file: "capture-two-sources", at: "/steps/0/capture/id", keyword: "oneOf"},
		// jsonschema v6 reports propertyNames at a location slice it goes on to reuse, so
		// only the keyword is checked.
		{file: "capture-name", keyword: "propertyNames"},
		{file: "secret-both", at: "/secrets/token", keyword: "oneOf"},
		{file: "tls-cert-without-key", at: "/steps/0/http/tls", keyword: "dependentRequired"},
		{file: "size", at: "/defaults/maxBodySize", keyword: "pattern"},
		{file: "two-bodies", at: "/steps/0/http", keyword: "not"},
		{file: "endpoint-event", at: "/endpoints/0/events/0", keyword: "enum"},
	}
	files, err := filepath.Glob("testdata/schema/invalid-*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every invalid fixture has a row here")

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			file := "testdata/schema/invalid-" + tt.file + ".yaml"
			require.Error(t, loadForSchemaTest(file), "Load must reject the fixture too")

			kinds := stepKinds
			if tt.withExec {
				kinds = withExecKind()
			}
			b, err := buildSchema(docKinds, kinds)
			require.NoError(t, err)
			sch := compileSchema(t, b)
			docs := yamlDocuments(t, file)
			require.Len(t, docs, 1)
			err = sch.Validate(docs[0])
			var ve *jsonschema.ValidationError
			require.ErrorAs(t, err, &ve)

			var got []string
			for _, e := range flattenErrors(ve) {
				loc := "/" + strings.Join(e.InstanceLocation, "/")
				kw := keywordOf(e)
				if (tt.at == "" || loc == tt.at) && kw == tt.keyword {
					return
				}
				got = append(got, kw+" at "+loc)
			}
			t.Errorf("no %s error at %s; got:\n  %s", tt.keyword, tt.at, strings.Join(got, "\n  "))
		})
	}
}

// TestSchemaCoversSpecTypes is the drift guard: the field paths the schema describes are exactly
// those of the Go types, found here by a walk over yaml tags that shares no code with Schema.
func TestSchemaCoversSpecTypes(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	root := decodeSchema(t, b)

	branches, _ := root["allOf"].([]any)
	require.Len(t, branches, len(docKinds), "one branch per document kind")
	for _, br := range branches {
		br := br.(map[string]any)
		kind := br["if"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["const"].(string)
		t.Run(kind, func(t *testing.T) {
			typ, ok := docTypes[kind]
			require.True(t, ok)
			want := map[string]bool{}
			goPaths(typ, "", want)
			got := map[string]bool{}
			schemaPaths(t, root, br["then"].(map[string]any), "", got)
			assert.Equal(t, sortedSet(want), sortedSet(got))
		})
	}
	for _, kind := range docKinds {
		assert.Contains(t, root["properties"].(map[string]any)["kind"].(map[string]any)["enum"], kind)
	}
}

// TestSchemaObjectsAreClosed: the decoder is strict, so every object in the schema must be too,
// and every field needs a description for editors to show.
func TestSchemaObjectsAreClosed(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	root := decodeSchema(t, b)
	defs := root["$defs"].(map[string]any)
	for name, def := range defs {
		walkSchema(def.(map[string]any), "#/$defs/"+name, func(s map[string]any, at string) {
			// Schemas without a type are constraints on an object typed elsewhere (oneOf's
			// {required, properties} branches), not objects of their own.
			if s["type"] != "object" {
				return
			}
			if _, hasProps := s["properties"]; hasProps {
				assert.Equal(t, false, s["additionalProperties"], "%s: an object with properties must be closed", at)
			} else {
				assert.Contains(t, s, "additionalProperties", "%s: a map must say what its values are", at)
			}
			props, _ := s["properties"].(map[string]any)
			for p, ps := range props {
				ps := ps.(map[string]any)
				desc, _ := ps["description"].(string)
				if ref, ok := ps["$ref"].(string); ok && desc == "" {
					desc, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)["description"].(string)
				}
				assert.NotEmpty(t, desc, "%s/properties/%s has no description", at, p)
			}
		})
	}
}

// The duration pattern must say yes exactly where Load does.
func TestSchemaDurationPattern(t *testing.T) {
	re := regexp.MustCompile(durationPattern)
	for _, s := range []string{
		"0", "+0", "300ms", "5s", "1m30s", "1h2m3.5s", "1.5s", ".5s", "1.s", "10us", "10µs", "10μs",
		"7ns", "+5s", "", "5", "-5s", "5 s", "5sec", "1d", "s", "1.5", "ms5", "5s ",
	} {
		v, err := time.ParseDuration(s)
		loads := err == nil && v >= 0
		assert.Equal(t, loads, re.MatchString(s), "%q", s)
	}
}

func TestSchemaByteSizePattern(t *testing.T) {
	re := regexp.MustCompile(byteSizePattern())
	for _, s := range []string{
		"1", "10MiB", "10 MiB", " 512KiB ", "1GB", "1KB", "100B", "+5MiB", "007",
		"0", "0MiB", "-1", "10MB5", "MiB", "1.5MiB", "10mib", "ten", "",
	} {
		_, err := parseByteSize(s)
		assert.Equal(t, err == nil, re.MatchString(s), "%q", s)
	}
}

func TestSchemaFailsOnKindWithoutType(t *testing.T) {
	_, err := buildSchema([]string{"Suite", "Analysis", "Config"}, stepKinds)
	assert.ErrorContains(t, err, `"Config"`)
}

func TestSchemaStepKindsFromRegistry(t *testing.T) {
	b, err := buildSchema(docKinds, withExecKind())
	require.NoError(t, err)
	step := decodeSchema(t, b)["$defs"].(map[string]any)["Step"].(map[string]any)
	assert.Contains(t, step["properties"], "exec")
	assert.Len(t, step["oneOf"], len(stepKinds)+1)
	assert.Contains(t, decodeSchema(t, b)["$defs"], "schemaTestExecStep")
}

// TestSchemaCheckKindsFromRegistry: a check's kinds in the schema are the registry's keys, and
// the schema cannot be built while a field of Check is not a registered kind.
func TestSchemaCheckKindsFromRegistry(t *testing.T) {
	b, err := Schema()
	require.NoError(t, err)
	check := decodeSchema(t, b)["$defs"].(map[string]any)["Check"].(map[string]any)
	var kinds []string
	for _, alt := range check["oneOf"].([]any) {
		kinds = append(kinds, alt.(map[string]any)["required"].([]any)[0].(string))
	}
	assert.Equal(t, CheckKinds(), kinds)
	for _, k := range kinds {
		assert.Contains(t, check["properties"], k)
	}

	require.NoError(t, checkKindFields(checkKinds))
	without := maps.Clone(checkKinds)
	delete(without, "shift")
	assert.ErrorContains(t, checkKindFields(without), `check field "shift" is not a check kind`)
	with := maps.Clone(checkKinds)
	with["exec"] = checkKind{config: with["shift"].config}
	assert.ErrorContains(t, checkKindFields(with), `check kind "exec" has no field of Check`)
	swapped := maps.Clone(checkKinds)
	swapped["shift"] = checkKinds["latency"]
	assert.ErrorContains(t, checkKindFields(swapped), `check kind "shift" reads another field`)
}

// schemaTestExecStep is a second step kind, registered only in tests' own copies of stepKinds.
type schemaTestExecStep struct {
	Command string `yaml:"command" doc:"Command to run."`
}

func (*schemaTestExecStep) validate(*decoder, *Step) {}
func (*schemaTestExecStep) applyDefaults(*Defaults)  {}

func withExecKind() map[string]StepKind {
	kinds := map[string]StepKind{}
	for k, v := range stepKinds {
		kinds[k] = v
	}
	kinds["exec"] = StepKind{New: func() StepConfig { return &schemaTestExecStep{} }, Doc: "A command."}
	return kinds
}

// loadForSchemaTest loads one file, first with no environment (so ${VAR:-default} takes its
// default) and then with every variable set, for specs that need their secrets.
// loadForSchemaTest loads a file as a user would: with the example suites beside it (an
// analysis names them), with no environment, or else with every variable set to a plain value.
func loadForSchemaTest(file string) error {
	none := func(string) (string, bool) { return "", false }
	all := func(name string) (string, bool) {
		if strings.HasSuffix(name, "_URL") {
			return "http://127.0.0.1:1", true
		}
		return "s3cret", true
	}
	paths := []string{file}
	if strings.Contains(file, "examples/analyses") {
		paths = append(paths, "../examples/suites")
	}
	_, err := Load(paths, LoadOptions{LookupEnv: none})
	if err != nil {
		_, err = Load(paths, LoadOptions{LookupEnv: all})
	}
	return err
}

func compileSchema(t *testing.T, b []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	require.NoError(t, c.AddResource(SchemaID, doc))
	sch, err := c.Compile(SchemaID)
	require.NoError(t, err)
	return sch
}

func decodeSchema(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// yamlDocuments returns each document of a YAML file as the JSON value an editor validates.
func yamlDocuments(t *testing.T, file string) []any {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
		}
		if len(n.Content) == 0 {
			continue
		}
		out = append(out, yamlToJSON(t, n.Content[0]))
	}
	return out
}

// yamlToJSON converts a node the way YAML-aware editors do: keys become strings and each scalar
// keeps its resolved type. Timestamps stay text, since JSON has none.
func yamlToJSON(t *testing.T, n *yaml.Node) any {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = yamlToJSON(t, n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = yamlToJSON(t, c)
		}
		return s
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	}
	var v any
	require.NoError(t, n.Decode(&v))
	return v
}

// keywordOf names the keyword that failed. Some kinds (not, allOf) have no keyword path, but
// their type is named for the keyword.
func keywordOf(e *jsonschema.ValidationError) string {
	if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
		return p[0]
	}
	name := fmt.Sprintf("%T", e.ErrorKind)
	name = name[strings.LastIndex(name, ".")+1:]
	return strings.ToLower(name[:1]) + name[1:]
}

func flattenErrors(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	out := []*jsonschema.ValidationError{ve}
	for _, c := range ve.Causes {
		out = append(out, flattenErrors(c)...)
	}
	return out
}

// goPaths lists the dotted field paths of t as the decoder reads them: yaml tags, [] for list
// items, * for map values, a step's kind keys, and a capture's object form.
func goPaths(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeOf(Template{}), reflect.TypeOf(Condition{}), reflect.TypeOf(JSONBody{}), reflect.TypeOf(SuiteRef{}):
		return
	case reflect.TypeOf(Capture{}):
		goPaths(reflect.TypeOf(captureForm{}), prefix, out)
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		goPaths(t.Elem(), prefix+"[]", out)
	case reflect.Map:
		goPaths(t.Elem(), prefix+".*", out)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if opts == "inline" {
				goPaths(f.Type, prefix, out)
				continue
			}
			out[prefix+"."+name] = true
			goPaths(f.Type, prefix+"."+name, out)
		}
		if t == reflect.TypeOf(Step{}) {
			for name, kind := range stepKinds {
				out[prefix+"."+name] = true
				goPaths(reflect.TypeOf(kind.New()), prefix+"."+name, out)
			}
		}
	}
}

// schemaPaths lists the same paths from the schema: properties, map values, array items,
// following $ref and the alternatives of oneOf, anyOf, allOf and then.
func schemaPaths(t *testing.T, root, s map[string]any, prefix string, out map[string]bool) {
	if ref, ok := s["$ref"].(string); ok {
		def, ok := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		require.True(t, ok, "dangling $ref %s", ref)
		schemaPaths(t, root, def, prefix, out)
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		out[prefix+"."+name] = true
		schemaPaths(t, root, p.(map[string]any), prefix+"."+name, out)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		schemaPaths(t, root, ap, prefix+".*", out)
	}
	if items, ok := s["items"].(map[string]any); ok {
		schemaPaths(t, root, items, prefix+"[]", out)
	}
	for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
		alts, _ := s[kw].([]any)
		for _, a := range alts {
			schemaPaths(t, root, a.(map[string]any), prefix, out)
		}
	}
	if then, ok := s["then"].(map[string]any); ok {
		schemaPaths(t, root, then, prefix, out)
	}
}

// walkSchema calls f on s and every schema inside it.
func walkSchema(s map[string]any, at string, f func(s map[string]any, at string)) {
	f(s, at)
	for k, v := range s {
		switch v := v.(type) {
		case map[string]any:
			if k == "properties" || k == "$defs" || k == "dependentRequired" {
				for name, sub := range v {
					if sub, ok := sub.(map[string]any); ok {
						walkSchema(sub, at+"/"+k+"/"+name, f)
					}
				}
				continue
			}
			walkSchema(v, at+"/"+k, f)
		case []any:
			for i, sub := range v {
				if sub, ok := sub.(map[string]any); ok {
					walkSchema(sub, at+"/"+k+"/"+strconv.Itoa(i), f)
				}
			}
		}
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
