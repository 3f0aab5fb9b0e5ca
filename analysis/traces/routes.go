package traces

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxKnownListed bounds the wanted values a rejection message or log line lists.
const maxKnownListed = 16

// routes is what a request is read with: the attributes to look for, the keys wanted and the
// tokens accepted. The receiver rebuilds it whenever a view opens or closes and never changes it
// after, so a request reads one consistent table from start to end without a lock.
type routes struct {
	attrs  []string               // distinct attributes of the open views, sorted
	index  map[string]int         // attribute → position in attrs
	keys   []map[string]*keyStore // by position in attrs: value → its store
	known  string                 // the wanted values, for messages: `"v1" (blue), "v2" (green)`
	tokens [][sha256.Size]byte    // digests of the accepted bearer tokens
	auth   bool                   // a token is required
}

// rebuild makes the routes of the open views; r.mu is held.
func (r *Receiver) rebuild() {
	rt := &routes{index: map[string]int{}}
	envs := map[Key][]string{} // environment names the views give each key
	for v := range r.views {
		for val, env := range v.cfg.Values {
			k := Key{v.cfg.Attribute, val}
			if !slices.Contains(envs[k], env) {
				envs[k] = append(envs[k], env)
			}
		}
	}
	for k := range envs {
		if _, ok := rt.index[k.Attribute]; !ok {
			rt.index[k.Attribute] = 0
			rt.attrs = append(rt.attrs, k.Attribute)
		}
	}
	slices.Sort(rt.attrs)
	rt.keys = make([]map[string]*keyStore, len(rt.attrs))
	for i, a := range rt.attrs {
		rt.index[a] = i
		rt.keys[i] = map[string]*keyStore{}
	}
	for k := range envs {
		rt.keys[rt.index[k.Attribute]][k.Value] = r.stores[k]
	}
	rt.known = knownText(envs, len(rt.attrs) > 1)

	if r.auth {
		rt.tokens = append(rt.tokens, r.token)
	}
	for v := range r.views {
		if v.auth && !slices.Contains(rt.tokens, v.token) {
			rt.tokens = append(rt.tokens, v.token)
		}
	}
	rt.auth = len(rt.tokens) > 0
	r.routes.Store(rt)
}

// knownText lists the wanted keys with the environments they stand for, sorted, at most
// maxKnownListed of them: `"v1" (blue), "v2" (green)`, each prefixed with its attribute when
// the views use several.
func knownText(envs map[Key][]string, withAttr bool) string {
	var known []string
	for k, names := range envs {
		names = slices.Sorted(slices.Values(names))
		s := fmt.Sprintf("%q (%s)", k.Value, strings.Join(names, ", "))
		if withAttr {
			s = k.Attribute + "=" + s
		}
		known = append(known, s)
	}
	slices.Sort(known)
	if len(known) == 0 {
		return "(none)"
	}
	if n := len(known) - maxKnownListed; n > 0 {
		return strings.Join(known[:maxKnownListed], ", ") + " and " + strconv.Itoa(n) + " more"
	}
	return strings.Join(known, ", ")
}
