package traces

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrTooManyKeys marks a view the receiver cannot take: the open views would want more than
// Config.MaxKeys keys.
var ErrTooManyKeys = errors.New("trace receiver: too many keys")

// View is one analysis's view of a Receiver: its environments mapped onto keys (an attribute
// and its values). It answers that analysis's queries (Fetch, Shape) from the spans of its own
// keys only. While it is open the receiver keeps the spans of its keys; Close unregisters it.
// It is safe for concurrent use.
type View struct {
	r     *Receiver
	cfg   ViewConfig             // Token cleared: kept as its digest only
	envs  []string               // distinct environment names, sorted
	byEnv map[string][]*keyStore // environment → its keys, by value
	keys  []*keyStore            // every key of the view
	known []string               // `"v1" (blue)`, quoted in messages

	token [sha256.Size]byte
	auth  bool

	refusedAtOpen int64 // the receiver's refusals before the view opened
	closeOnce     sync.Once
}

// View opens a view of the receiver for cfg: from now on, spans whose resource carries
// cfg.Attribute with one of cfg.Values are kept (other views may want them too; they share
// them). Close it when the analysis ends.
func (r *Receiver) View(cfg ViewConfig) (*View, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &View{r: r, cfg: cfg, envs: cfg.environments(), byEnv: map[string][]*keyStore{}}
	if cfg.Token != "" {
		v.token, v.auth = sha256.Sum256([]byte(cfg.Token.Reveal())), true
	}
	v.cfg.Token = ""
	values := make([]string, 0, len(cfg.Values))
	for val, env := range cfg.Values {
		values = append(values, val)
		v.known = append(v.known, fmt.Sprintf("%q (%s)", val, env))
	}
	slices.Sort(values)
	slices.Sort(v.known)

	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := 0
	for _, val := range values {
		if r.stores[Key{cfg.Attribute, val}] == nil {
			fresh++
		}
	}
	if len(r.stores)+fresh > r.cfg.MaxKeys {
		return nil, fmt.Errorf("%w: %d keys are open, the view asks for %d more, at most %d", ErrTooManyKeys, len(r.stores), fresh, r.cfg.MaxKeys)
	}
	v.refusedAtOpen = r.refused.Load()
	for _, val := range values {
		k := Key{cfg.Attribute, val}
		ks := r.stores[k]
		if ks == nil {
			ks = newKeyStore(k, r.cfg.MaxSpans)
			r.stores[k] = ks
		}
		ks.refs++
		v.keys = append(v.keys, ks)
		env := cfg.Values[val]
		v.byEnv[env] = append(v.byEnv[env], ks)
	}
	r.views[v] = struct{}{}
	r.rebuild()
	return v, nil
}

// Close unregisters the view: its keys are no longer kept unless another open view wants them,
// and its token is no longer accepted. Queries still answer from the spans held at Close.
// Closing twice does nothing.
func (v *View) Close() {
	v.closeOnce.Do(func() {
		r := v.r
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ks := range v.keys {
			if ks.refs--; ks.refs == 0 {
				delete(r.stores, ks.key)
			}
		}
		delete(r.views, v)
		r.rebuild()
	})
}

// Environments returns the environment names of the view, sorted.
func (v *View) Environments() []string { return slices.Clone(v.envs) }

// Keys returns the keys of the view, sorted by value.
func (v *View) Keys() []Key {
	out := make([]Key, len(v.keys))
	for i, ks := range v.keys {
		out[i] = ks.key
	}
	return out
}

// ViewStats is a snapshot of a view's environments and of what the receiver turned away.
type ViewStats struct {
	Environments map[string]EnvStats
	Rejected     int64 // spans the receiver rejected since it started, for every view
	Refused      int64 // requests refused for a missing or wrong bearer token since the view opened
	Names        int   // distinct operation and service names interned for the view's keys
}

// EnvStats are the spans of one environment (or key).
type EnvStats struct {
	Held     int   // spans in its rings now (≤ MaxSpans per key)
	Accepted int64 // spans accepted since its keys were opened
	Evicted  int64 // spans dropped to make room
}

// Stats returns a snapshot of the view's counters.
func (v *View) Stats() ViewStats {
	s := ViewStats{Environments: make(map[string]EnvStats, len(v.envs)), Rejected: v.r.rejected.Load(), Refused: v.refused()}
	for env, keys := range v.byEnv {
		var e EnvStats
		for _, ks := range keys {
			g := ks.ring.stats()
			e.Held += g.held
			e.Accepted += g.accepted
			e.Evicted += g.evicted
		}
		s.Environments[env] = e
	}
	for _, ks := range v.keys {
		s.Names += ks.names.added()
	}
	return s
}

// refused is how many requests the receiver refused for their token since the view opened.
func (v *View) refused() int64 { return v.r.refused.Load() - v.refusedAtOpen }
