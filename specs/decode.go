package specs

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// nodeDecoder is implemented by types that decode themselves from a YAML node (durations,
// conditions, templates, unions such as captures). They report problems through d and keep going.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node)
}

// decoder turns yaml.Nodes into spec types strictly: unknown fields, wrong types and duplicate
// keys are errors with positions, and decoding continues after each so that all are reported.
// yaml.v3's own Decode stops at the first unknown field and gives no column, hence this.
type decoder struct {
	file string
	errs *Errors
	// ctx carries load-time context (secrets, captures in scope) to nodeDecoders.
	ctx *loadContext
	// field is the key being decoded, named in type errors ("always: expected a boolean").
	field string
	// warns collects what does not make the document invalid (a secret validate cannot see).
	warns *Errors
	// envBudget is how many more bytes ${VAR} expansion may produce in this document.
	envBudget int
	// misspelled is, by the position of a mapping, the field names its unknown keys were
	// probably meant as: validation does not then also report those fields missing.
	misspelled map[Position][]string
}

// meant reports whether the mapping at pos had an unknown key taken for one of names: the
// "unknown field" error already covers a missing one.
func (d *decoder) meant(pos Position, names ...string) bool {
	for _, m := range d.misspelled[pos] {
		for _, n := range names {
			if m == n {
				return true
			}
		}
	}
	return false
}

// typeErrorf reports a value of the wrong type, naming the field it belongs to.
func (d *decoder) typeErrorf(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if d.field != "" {
		msg = d.field + ": " + msg
	}
	d.errs.add(d.pos(n), "%s", msg)
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.add(posOf(d.file, n), format, args...)
}

func (d *decoder) pos(n *yaml.Node) Position { return posOf(d.file, n) }

var positionType = reflect.TypeOf(Position{})

// decode fills v (a pointer) from n.
func (d *decoder) decode(n *yaml.Node, v any) {
	d.value(n, reflect.ValueOf(v).Elem())
}

func (d *decoder) value(n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n)
			return
		}
	}
	if isNull(n) {
		// An explicit null leaves the zero value: "field:" with nothing after it is common YAML.
		// A struct still learns where it was written, so that what it lacks has a position.
		d.setPos(n, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem())
	case reflect.Struct:
		d.structValue(n, v, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.typeErrorf(n, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		d.mapValue(n, v)
	case reflect.String:
		if s, ok := d.scalar(n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, "a boolean")
		if !ok {
			return
		}
		if n.ShortTag() != "!!bool" {
			d.typeErrorf(n, "expected a boolean (true or false), got %q", s)
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(s))
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, ok := d.scalar(n, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 0, 64)
		if n.ShortTag() != "!!int" || err != nil || v.OverflowInt(i) {
			d.typeErrorf(n, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || err != nil {
			d.typeErrorf(n, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, "invalid value: %v", err)
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
	default:
		d.errorf(n, "internal: cannot decode into %s", v.Type())
	}
}

// setPos records n's position in the struct v (or the struct a non-nil pointer v points to), if
// it has a position field.
func (d *decoder) setPos(n *yaml.Node, v reflect.Value) {
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || !v.CanSet() {
		return
	}
	if f, ok := fieldsOf(v.Type()).byName[posKey]; ok {
		v.FieldByIndex(f.index).Set(reflect.ValueOf(d.pos(n)))
	}
}

// scalar returns the text of a scalar node, or reports what was found instead.
func (d *decoder) scalar(n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.typeErrorf(n, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, "internal: map key %s", v.Type().Key())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "expected a string key, got %s", describe(k))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
}

// structValue decodes a mapping into a struct by yaml tags. extra, when non-nil, is offered keys
// the struct does not know before they count as unknown (a step's kind key, say); it returns
// whether it took the key.
func (d *decoder) structValue(n *yaml.Node, v reflect.Value, extra func(k, val *yaml.Node) bool) {
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	if f, ok := fields.byName[posKey]; ok {
		v.FieldByIndex(f.index).Set(reflect.ValueOf(d.pos(n)))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "expected a field name, got %s", describe(k))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "duplicate field %q", k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := fields.byName[k.Value]
		if !ok || k.Value == posKey {
			if extra != nil && extra(k, val) {
				continue
			}
			if r, ok := refuser(v); ok {
				if msg := r.refuseField(k.Value); msg != "" {
					d.errorf(k, "%s", msg)
					continue
				}
			}
			hint := suggest(k.Value, fields.names)
			if best := closest(k.Value, fields.names); best != "" {
				if d.misspelled == nil {
					d.misspelled = map[Position][]string{}
				}
				d.misspelled[d.pos(n)] = append(d.misspelled[d.pos(n)], best)
			}
			d.errorf(k, "unknown field %q%s", k.Value, hint)
			continue
		}
		saved := d.field
		d.field = k.Value
		d.value(val, v.FieldByIndex(f.index))
		d.field = saved
	}
}

// fieldRefuser is a type that knows why a field other types take is not one of its own, so the
// error says what to write instead (a values check given a monitor's from) rather than only
// "unknown field". refuseField returns "" for a field it has nothing to say about.
type fieldRefuser interface {
	refuseField(key string) string
}

func refuser(v reflect.Value) (fieldRefuser, bool) {
	if !v.CanAddr() {
		return nil, false
	}
	r, ok := v.Addr().Interface().(fieldRefuser)
	return r, ok
}

// posKey is the pseudo-field through which a struct learns where it was written.
const posKey = "\x00pos"

type field struct {
	index []int
}

type structFields struct {
	byName map[string]field
	names  []string
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if c, ok := fieldCache.Load(t); ok {
		return c.(*structFields)
	}
	sf := &structFields{byName: map[string]field{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Type == positionType && name == "-" {
				sf.byName[posKey] = field{index: idx}
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if opts == "inline" {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name[:1]) + f.Name[1:]
			}
			sf.byName[name] = field{index: idx}
			sf.names = append(sf.names, name)
		}
	}
	walk(t, nil)
	sort.Strings(sf.names)
	fieldCache.Store(t, sf)
	return sf
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported node"
}

// suggest names the closest known field, for typos such as "metod".
func suggest(got string, known []string) string {
	best := closest(got, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// closest is the known name got is probably a misspelling of, or "".
func closest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(strings.ToLower(got), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
