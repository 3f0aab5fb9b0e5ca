package specs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// SchemaID is the $id of the language's JSON Schema.
const SchemaID = "https://greenlight.dev/schema/v1.json"

// Schema returns the JSON Schema (draft 2020-12) of the spec language, for editors: with
//
//	# yaml-language-server: $schema=greenlight.schema.json
//
// at the top of a spec, yaml-language-server completes fields and marks errors inline. Fields,
// types and descriptions come from the spec types and their doc tags, enums from the sets
// validation checks against (step kinds, check kinds, document kinds, HTTP methods, retry
// reasons), so they cannot drift from what Load accepts; the few rules validation adds on top
// (required fields, exclusive fields) are in typeRules and fieldRules, each tested against
// Load. The output is indented JSON with sorted keys, without a trailing newline, and the same
// on every call.
//
// The schema accepts a little more than Load: what needs context (templates referring to
// captures, expressions, unique step names, files that must exist) is left to `greenlight validate`.
func Schema() ([]byte, error) {
	return buildSchema(docKinds, stepKinds)
}

// jsonObject is a JSON Schema object, or part of one; encoding/json sorts its keys.
type jsonObject = map[string]any

// docTypes maps each document kind to its type. Schema fails on a kind in docKinds without an
// entry here, so a new kind cannot ship without its schema.
var docTypes = map[string]reflect.Type{
	"Suite":         reflect.TypeFor[Suite](),
	"Analysis":      reflect.TypeFor[Analysis](),
	"Notifications": reflect.TypeFor[Notifications](),
}

// Patterns carry a patternErrorMessage: yaml-language-server shows it instead of the regex, and
// 2020-12 validators ignore keywords they do not know.

// envRefPattern matches a value holding ${VAR}: expandEnv replaces it before decoding, so a
// boolean, number or duration field may be written as a string that holds one.
const envRefPattern = `\$\{[^}]+\}`

// durationPattern is the syntax of time.ParseDuration without a sign (negative durations are
// rejected at load).
const durationPattern = `^\+?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$`

var (
	durationType  = reflect.TypeFor[Duration]()
	byteSizeType  = reflect.TypeFor[ByteSize]()
	templateType  = reflect.TypeFor[Template]()
	conditionType = reflect.TypeFor[Condition]()
	captureType   = reflect.TypeFor[Capture]()
	suiteRefType  = reflect.TypeFor[SuiteRef]()
	percentType   = reflect.TypeFor[Percent]()
	jsonBodyType  = reflect.TypeFor[JSONBody]()
)

// typeDocs describe the object types that have no doc tag of their own to borrow. Step kinds
// are described by their StepKind.Doc instead, so adding a kind needs nothing here.
var typeDocs = map[string]string{
	"Suite":          "An ordered list of steps run as one pass against one environment.",
	"Metadata":       "Names the document.",
	"Defaults":       "Settings every step inherits unless it sets its own.",
	"Retries":        "Retries a step on transient failures with exponential backoff.",
	"TLS":            "Client side of TLS.",
	"Synthetic":      "The header that labels greenlight's traffic so apps can skip side effects.",
	"Step":           "One step: a name, what to expect and capture, and exactly one step kind.",
	"SecretRef":      "Where a secret comes from: exactly one of env or file.",
	"Analysis":       "Decides one release: smoke-tests the candidate, monitors both environments and compares them check by check.",
	"Environment":    "One deployment: its base URL, headers and labels.",
	"Monitor":        "A suite or one step run against baseline and candidate at the same moments, on a schedule.",
	"Check":          "One comparison between baseline and candidate, with its threshold.",
	"ErrorRateCheck": "Compares error proportions.",
	"LatencyCheck":   "Compares a latency percentile.",
	"ShiftCheck":     "Compares whole latency distributions by rank.",
	"Policy":         "Durations, the false-rollback level and what an inconclusive analysis becomes.",
	"Notifications":  "greenlight serve's deliveries: the endpoints analyses' events go to and the retry policy they share.",
	"Retry":          "When failed deliveries are tried again, and when they are given up.",
	"Endpoint":       "One receiver of events: a signed webhook or a Slack incoming webhook.",
	"Capture": "A value kept for later steps: an expression over the response (json.token), " +
		"or exactly one of json, header, regex (with optional group), status, body.",
}

// typeRules add to an object type's schema what validation checks beyond the types. Schema fails
// on a required or dependent field the type does not have.
func typeRules() map[string]jsonObject {
	return map[string]jsonObject{
		"Suite":         {"required": []string{"metadata", "steps"}},
		"Analysis":      {"required": []string{"metadata", "environments", "baseline", "candidate", "checks"}},
		"Monitor":       {"required": []string{"name"}},
		"Check":         {"required": []string{"name"}},
		"Metadata":      {"required": []string{"name"}},
		"Notifications": {"required": []string{"metadata", "endpoints"}},
		"Endpoint":      {"required": []string{"name", "kind", "url"}},
		"HTTPStep":      {"required": []string{"url"}, "not": anyTwo("body", "json", "form")},
		"SecretRef":     {"oneOf": exactlyOne(reflect.TypeFor[SecretRef](), "env", "file")},
		"TLS": {"dependentRequired": jsonObject{
			"certFile": []string{"keyFile"},
			"keyFile":  []string{"certFile"},
		}},
	}
}

// fieldRules add to a field's schema what validation checks beyond its type, keyed by
// Type.field. Schema fails on a key that names no field, so a renamed field cannot leave its
// rule behind.
func fieldRules() map[string]jsonObject {
	return map[string]jsonObject{
		// A suite's steps need names; a monitor's inline step takes the monitor's.
		"Suite.steps":           {"minItems": 1, "items": jsonObject{"$ref": "#/$defs/Step", "required": []string{"name"}}},
		"Analysis.checks":       {"minItems": 1},
		"Policy.onInconclusive": {"enum": schemaKeys(onInconclusiveValues)},
		"Metadata.name":         {"pattern": nameRe.String(), "patternErrorMessage": "letters, digits, '.', '_' and '-', starting with a letter or digit"},
		"Step.name":             {"minLength": 1},
		"Endpoint.name":         {"pattern": nameRe.String(), "patternErrorMessage": "letters, digits, '.', '_' and '-', starting with a letter or digit"},
		"Endpoint.events":       {"items": jsonObject{"type": "string", "enum": eventNameEnum()}},
		"Endpoint.url":          {"minLength": 1},
		"Analysis.notify":       {"items": jsonObject{"type": "string", "minLength": 1}, "uniqueItems": true},
		"Step.capture":          {"propertyNames": jsonObject{"pattern": identifierRe.String(), "not": jsonObject{"enum": schemaKeys(reservedData)}}},
		"HTTPStep.url":          {"minLength": 1},
		"HTTPStep.method":       {"enum": schemaKeys(httpMethods)},
		"HTTPStep.maxRedirects": {"minimum": 0},
		"Defaults.maxRedirects": {"minimum": 0},
		"Retries.attempts":      {"minimum": 0},
		"Retries.on":            {"items": jsonObject{"enum": schemaKeys(retryOnValues)}},
		"captureForm.json":      {"description": "A JSON path into the body, $. prefix optional: data.items[0].id."},
		"captureForm.header":    {"description": "A response header, matched case-insensitively."},
		"captureForm.regex":     {"description": "A regex over the body; the capture is its first group, or the one in group."},
		"captureForm.group":     {"description": "Which group of regex to capture (0 is the whole match; default 1).", "minimum": 0},
		"captureForm.status":    {"description": "The status code."},
		"captureForm.body":      {"description": "The whole body, as text."},
	}
}

type schemaGen struct {
	stepKinds  map[string]StepKind
	defs       jsonObject
	fieldRules map[string]jsonObject
	typeRules  map[string]jsonObject
	used       map[string]bool
}

func buildSchema(kinds []string, steps map[string]StepKind) ([]byte, error) {
	g := &schemaGen{
		stepKinds:  steps,
		defs:       jsonObject{},
		fieldRules: fieldRules(),
		typeRules:  typeRules(),
		used:       map[string]bool{},
	}
	var branches []any
	for _, kind := range kinds {
		t, ok := docTypes[kind]
		if !ok {
			return nil, fmt.Errorf("build schema: document kind %q has no type in docTypes", kind)
		}
		ref, err := g.ref(t)
		if err != nil {
			return nil, err
		}
		props, _ := g.defs[t.Name()].(jsonObject)["properties"].(jsonObject)
		apiVersion, ok1 := props["apiVersion"].(jsonObject)
		kindProp, ok2 := props["kind"].(jsonObject)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("build schema: %s has no apiVersion or kind field", t.Name())
		}
		apiVersion["const"] = APIVersion
		kindProp["const"] = kind
		g.require(t.Name(), "apiVersion", "kind")
		branches = append(branches, jsonObject{
			"if":   jsonObject{"required": []string{"kind"}, "properties": jsonObject{"kind": jsonObject{"const": kind}}},
			"then": ref,
		})
	}
	for key := range g.fieldRules {
		if !g.used[key] {
			return nil, fmt.Errorf("build schema: rule for %s names no field", key)
		}
	}
	for name, def := range g.defs {
		if err := checkRequired(name, def.(jsonObject)); err != nil {
			return nil, err
		}
	}
	root := jsonObject{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "greenlight spec",
		"description": "A greenlight document: apiVersion " + APIVersion + " and a kind (" + strings.Join(kinds, ", ") + ") that decides the rest.",
		"type":        "object",
		// Each kind's own schema closes the object (additionalProperties: false); the root only
		// dispatches on kind, with apiVersion and kind here so editors offer them first.
		"required": []string{"apiVersion", "kind"},
		"properties": jsonObject{
			"apiVersion": jsonObject{"const": APIVersion, "description": "Always " + APIVersion + "."},
			"kind":       jsonObject{"enum": kinds, "description": "What the document describes: " + strings.Join(kinds, ", ") + "."},
		},
		"allOf": branches,
		"$defs": g.defs,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// typeSchema returns a new schema for a field of type t.
func (g *schemaGen) typeSchema(t reflect.Type) (jsonObject, error) {
	switch t {
	case durationType:
		return jsonObject{
			"type":                "string",
			"pattern":             durationPattern + "|" + envRefPattern,
			"patternErrorMessage": "a duration with a unit, such as 300ms, 5s or 1m30s",
		}, nil
	case byteSizeType:
		return jsonObject{
			"type":                []string{"integer", "string"},
			"minimum":             1,
			"pattern":             byteSizePattern() + "|" + envRefPattern,
			"patternErrorMessage": "a size in bytes, or with a unit such as 512KiB or 10MiB",
		}, nil
	case templateType:
		return scalarSchema(), nil
	case conditionType:
		s := scalarSchema()
		s["pattern"] = `\S`
		return s, nil
	case suiteRefType:
		s := scalarSchema()
		s["minLength"] = 1
		return s, nil
	case percentType:
		return jsonObject{
			"type":                "string",
			"pattern":             `^\s*(100|[0-9]{1,2})(\.[0-9]+)?\s*%\s*$|` + envRefPattern,
			"patternErrorMessage": "a percentage such as 1% or 0.5%",
		}, nil
	case captureType:
		return g.ref(t)
	case jsonBodyType:
		return jsonObject{}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.Slice:
		items, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return jsonObject{"type": "array", "items": items}, nil
	case reflect.Map:
		values, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return jsonObject{"type": "object", "additionalProperties": values}, nil
	case reflect.String:
		return scalarSchema(), nil
	case reflect.Bool:
		return envOr("boolean"), nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return envOr("integer"), nil
	case reflect.Float64:
		return envOr("number"), nil
	}
	return nil, fmt.Errorf("build schema: no schema for type %s", t)
}

// scalarSchema is a string field's: the decoder takes the text of any scalar, so `port: 8080`
// in vars is as valid as `port: "8080"`.
func scalarSchema() jsonObject {
	return jsonObject{"type": []string{"boolean", "number", "string"}}
}

// envOr is a non-string scalar, or a string holding ${VAR} that expands to one.
func envOr(typ string) jsonObject {
	return jsonObject{
		"type":                []string{typ, "string"},
		"pattern":             envRefPattern,
		"patternErrorMessage": article(typ) + typ + ", or a ${VAR} reference that expands to one",
	}
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an "
	}
	return "a "
}

func byteSizePattern() string {
	units := make([]string, len(byteUnits))
	for i, u := range byteUnits {
		units[i] = regexp.QuoteMeta(u.suffix)
	}
	return `^\s*\+?0*[1-9]\d*\s*(` + strings.Join(units, "|") + `)?\s*$`
}

// ref returns a $ref to the definition of struct type t, defining it on first use.
func (g *schemaGen) ref(t reflect.Type) (jsonObject, error) {
	name := t.Name()
	if _, done := g.defs[name]; !done {
		g.defs[name] = jsonObject{} // a type that contains itself refers to this placeholder
		var def jsonObject
		var err error
		if t == captureType {
			def, err = g.captureSchema()
		} else {
			def, err = g.structSchema(t)
		}
		if err != nil {
			return nil, err
		}
		if doc := typeDocs[name]; doc != "" {
			def["description"] = doc
		}
		mergeSchema(def, g.typeRules[name])
		g.defs[name] = def
	}
	return jsonObject{"$ref": "#/$defs/" + name}, nil
}

// structSchema is a closed object of t's yaml fields, found the way the decoder finds them.
func (g *schemaGen) structSchema(t reflect.Type) (jsonObject, error) {
	props := jsonObject{}
	fields := fieldsOf(t)
	for _, name := range fields.names {
		f := t.FieldByIndex(fields.byName[name].index)
		s, err := g.typeSchema(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), name, err)
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			s["description"] = doc
		}
		key := t.Name() + "." + name
		if rule, ok := g.fieldRules[key]; ok {
			mergeSchema(s, rule)
			g.used[key] = true
		}
		props[name] = s
	}
	def := jsonObject{"type": "object", "additionalProperties": false, "properties": props}
	if t == reflect.TypeFor[Step]() {
		if err := g.addStepKinds(def); err != nil {
			return nil, err
		}
	}
	if t == reflect.TypeFor[Check]() {
		if err := checkKindFields(checkKinds); err != nil {
			return nil, fmt.Errorf("build schema: %w", err)
		}
		def["oneOf"] = requireOneOf(CheckKinds())
	}
	return def, nil
}

// requireOneOf requires exactly one of the named properties.
func requireOneOf(names []string) []any {
	out := make([]any, 0, len(names))
	for _, name := range names {
		out = append(out, jsonObject{"required": []string{name}})
	}
	return out
}

// addStepKinds adds one property per registered step kind and requires exactly one of them.
func (g *schemaGen) addStepKinds(def jsonObject) error {
	props := def["properties"].(jsonObject)
	names := make([]string, 0, len(g.stepKinds))
	for name := range g.stepKinds {
		names = append(names, name)
	}
	sort.Strings(names)
	var oneOf []any
	for _, name := range names {
		if _, clash := props[name]; clash {
			return fmt.Errorf("build schema: step kind %q has the name of a step field", name)
		}
		kind := g.stepKinds[name]
		t := reflect.TypeOf(kind.New()).Elem()
		ref, err := g.ref(t)
		if err != nil {
			return fmt.Errorf("step kind %s: %w", name, err)
		}
		ref["description"] = kind.Doc
		props[name] = ref
		if d, ok := g.defs[t.Name()].(jsonObject); ok && d["description"] == nil {
			d["description"] = kind.Doc
		}
		oneOf = append(oneOf, jsonObject{"required": []string{name}})
	}
	def["oneOf"] = oneOf
	return nil
}

// captureSchema is Capture's two forms: an expression, or a closed object with exactly one
// non-empty source (captureForm's string and boolean fields) that group may refine.
func (g *schemaGen) captureSchema() (jsonObject, error) {
	form, err := g.structSchema(reflect.TypeFor[captureForm]())
	if err != nil {
		return nil, err
	}
	t := reflect.TypeFor[captureForm]()
	var sources []string
	fields := fieldsOf(t)
	for _, name := range fields.names {
		switch t.FieldByIndex(fields.byName[name].index).Type.Kind() {
		case reflect.String, reflect.Bool:
			sources = append(sources, name)
		}
	}
	form["oneOf"] = exactlyOne(t, sources...)
	form["dependentRequired"] = jsonObject{"group": []string{"regex"}}
	expr := scalarSchema()
	expr["description"] = "An expression over the response, as in expect: json.token, header(\"Location\")."
	return jsonObject{"oneOf": []any{expr, form}}, nil
}

// exactlyOne requires exactly one of the named properties to be set to a non-zero value: the
// decoder treats "" and false as unset, so {status: false, json: id} has one source, json.
func exactlyOne(t reflect.Type, names ...string) []any {
	fields := fieldsOf(t)
	out := make([]any, 0, len(names))
	for _, name := range names {
		nonZero := jsonObject{"minLength": 1}
		if f, ok := fields.byName[name]; ok && t.FieldByIndex(f.index).Type.Kind() == reflect.Bool {
			nonZero = jsonObject{"const": true}
		}
		out = append(out, jsonObject{"required": []string{name}, "properties": jsonObject{name: nonZero}})
	}
	return out
}

// anyTwo matches an object that sets two or more of the named properties; under "not" it allows
// at most one.
func anyTwo(names ...string) jsonObject {
	var pairs []any
	for i, a := range names {
		for _, b := range names[i+1:] {
			pair := []string{a, b}
			sort.Strings(pair)
			pairs = append(pairs, jsonObject{"required": pair})
		}
	}
	return jsonObject{"anyOf": pairs}
}

// require adds names to the required fields of the definition called def.
func (g *schemaGen) require(def string, names ...string) {
	d := g.defs[def].(jsonObject)
	req, _ := d["required"].([]string)
	for _, n := range names {
		if !slices.Contains(req, n) {
			req = append(req, n)
		}
	}
	sort.Strings(req)
	d["required"] = req
}

// checkRequired fails on a required or dependent field that the definition does not have, in
// the definition or in the constraints (oneOf, anyOf, not) that apply to it.
func checkRequired(name string, def jsonObject) error {
	props, _ := def["properties"].(jsonObject)
	var names []string
	var collect func(s jsonObject)
	collect = func(s jsonObject) {
		req, _ := s["required"].([]string)
		names = append(names, req...)
		for k, v := range s {
			switch v := v.(type) {
			case []any:
				if k != "oneOf" && k != "anyOf" {
					continue
				}
				for _, alt := range v {
					// An alternative with a type of its own is another value, not a constraint.
					if alt, ok := alt.(jsonObject); ok && alt["type"] == nil {
						collect(alt)
					}
				}
			case jsonObject:
				if k == "not" {
					collect(v)
				}
				if k == "dependentRequired" {
					for dep, also := range v {
						names = append(names, dep)
						names = append(names, also.([]string)...)
					}
				}
			}
		}
	}
	collect(def)
	for _, n := range names {
		if _, ok := props[n]; !ok {
			return fmt.Errorf("build schema: rule for %s requires %q, which it does not have", name, n)
		}
	}
	return nil
}

// mergeSchema copies src into dst, merging nested objects.
func mergeSchema(dst, src jsonObject) {
	for k, v := range src {
		if sub, ok := v.(jsonObject); ok {
			if d, ok := dst[k].(jsonObject); ok {
				mergeSchema(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

func schemaKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
