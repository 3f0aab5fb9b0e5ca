package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docPages are the pages whose complete spec examples (a yaml block with an apiVersion) must
// load: README.md, docs/*.md and docs/integrations/*.md.
func docPages(t *testing.T) []string {
	t.Helper()
	pages := []string{"../README.md"}
	for _, glob := range []string{"../docs/*.md", "../docs/integrations/*.md"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		pages = append(pages, m...)
	}
	return pages
}

// yamlBlock is one ```yaml block of a page.
type yamlBlock struct {
	line int // of the block's first line in the page
	text string
}

var fence = regexp.MustCompile("(?m)^```yaml\n((?s:.*?))^```")

func yamlBlocks(page string) []yamlBlock {
	var out []yamlBlock
	for _, m := range fence.FindAllStringSubmatchIndex(page, -1) {
		out = append(out, yamlBlock{line: strings.Count(page[:m[2]], "\n") + 1, text: page[m[2]:m[3]]})
	}
	return out
}

// docEnv stands in for the environment variables and secrets the examples name: a URL for
// names that hold one, a long enough value for the others.
func docEnv(name string) (string, bool) {
	if strings.Contains(name, "URL") {
		return "https://hooks.example.test/" + strings.ToLower(name), true
	}
	return "docs-example-value-" + strings.ToLower(name), true
}

// TestDocExamplesLoad loads every complete spec example of the docs with the real loader —
// each ```yaml block that has "apiVersion: greenlight/v1" — so that none can rot. An example is
// read as if it were a file beside the example suites, so that the suites it names by name
// (checkout-journey) and the files it names by path (schemas/profile.json) are the shipped ones.
func TestDocExamplesLoad(t *testing.T) {
	examples, err := Load([]string{"../examples/suites"}, LoadOptions{LookupEnv: docEnv})
	require.NoError(t, err)
	total := 0
	for _, page := range docPages(t) {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, blk := range yamlBlocks(string(b)) {
			if !strings.Contains(blk.text, "apiVersion: greenlight/v1") {
				continue // a fragment (a field or two) or another tool's YAML
			}
			total++
			name := fmt.Sprintf("%s:%d", strings.TrimPrefix(page, "../"), blk.line)
			t.Run(name, func(t *testing.T) {
				file := filepath.Join("../examples/suites", strings.NewReplacer("/", "-", ":", "-").Replace(name)+".yaml")
				docs, err := Parse(file, []byte(blk.text), LoadOptions{LookupEnv: docEnv})
				require.NoError(t, err, "the example at %s does not load", name)
				for _, s := range examples.Suites {
					if !slices.ContainsFunc(docs.Suites, func(d *Suite) bool { return d.Metadata.Name == s.Metadata.Name }) {
						docs.Suites = append(docs.Suites, s)
					}
				}
				require.NoError(t, docs.Link(LoadOptions{LookupEnv: docEnv}), "the example at %s does not link", name)
			})
		}
	}
	assert.GreaterOrEqual(t, total, 12, "the docs' complete examples were not found")
}

// TestChecksPageCoversEveryKind keeps docs/checks.md a reference: every check kind the loader
// accepts has a section there and at least one complete example using it.
func TestChecksPageCoversEveryKind(t *testing.T) {
	b, err := os.ReadFile("../docs/checks.md")
	require.NoError(t, err)
	page := string(b)
	used := map[string]bool{}
	for _, blk := range yamlBlocks(page) {
		docs, err := Parse("checks.yaml", []byte(blk.text), LoadOptions{LookupEnv: docEnv})
		require.NoError(t, err, "docs/checks.md:%d", blk.line)
		for _, a := range docs.Analyses {
			for _, c := range a.Checks {
				used[c.Kind()] = true
			}
		}
	}
	for _, kind := range CheckKinds() {
		assert.Contains(t, page, "\n## `"+kind+"`\n", "docs/checks.md has no section for %s", kind)
		assert.True(t, used[kind], "docs/checks.md has no example of %s", kind)
	}
	for _, src := range []string{"prometheus", "datadog", "traces", "jaeger"} {
		assert.Contains(t, page, src+":", "docs/checks.md shows no check reading %s", src)
	}
}

// TestSpecPageNamesEveryField holds docs/spec.md's tables to the spec's structs: every YAML
// field of an analysis (its checks, monitors, sources and policy included) and of a suite must
// be named in the field column of one of the page's tables, as `field` or its path
// (`policy.evidence.minSuccesses`, `checks[].latency`).
func TestSpecPageNamesEveryField(t *testing.T) {
	b, err := os.ReadFile("../docs/spec.md")
	require.NoError(t, err)
	// The field column of the page's tables: "| `policy.minDuration` | … |".
	var page string
	for line := range strings.SplitSeq(string(b), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && cells[0] == "" {
			page += cells[1] + "\n"
		}
	}
	var missing []string
	seen := map[reflect.Type]bool{}
	named := func(x string) bool {
		return strings.Contains(page, "`"+x+"`") || strings.Contains(page, "`"+x+".") || strings.Contains(page, "`"+x+"[")
	}
	// Values with a syntax of their own, documented as such rather than field by field.
	own := map[reflect.Type]bool{
		reflect.TypeFor[SuiteRef](): true, reflect.TypeFor[Capture](): true, reflect.TypeFor[Condition](): true,
		reflect.TypeFor[Template](): true, reflect.TypeFor[JSONBody](): true, reflect.TypeFor[Position](): true,
	}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		if typ.Kind() != reflect.Struct || seen[typ] || own[typ] {
			return
		}
		seen[typ] = true
		fields := fieldsOf(typ)
		for _, name := range fields.names {
			f := typ.FieldByIndex(fields.byName[name].index)
			full := strings.TrimPrefix(path+"."+name, ".")
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
				if !named(name) && !named(full) && !named(full+"[]") {
					missing = append(missing, full)
				}
				walk(full+"[]", ft)
				continue
			}
			if ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if !named(name) && !named(full) {
				missing = append(missing, full)
			}
			walk(full, ft)
		}
	}
	walk("", reflect.TypeFor[Analysis]())
	walk("", reflect.TypeFor[Suite]())
	assert.Empty(t, missing, "fields docs/spec.md does not name")
}
