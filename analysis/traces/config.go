package traces

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"

	"github.com/greenlight/greenlight/specs"
)

// Defaults applied by NewReceiver and Receiver.View to zero fields.
const (
	DefaultAttribute      = "service.version"
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMaxSpans       = 200_000
	DefaultMaxKeys        = 1024
	DefaultShapeFactor    = 2.0
	DefaultShapeMinTraces = 10
)

// ErrConfig marks an invalid Config or ViewConfig.
var ErrConfig = errors.New("invalid traces config")

// Config of the receiver: what every view shares.
type Config struct {
	// MaxBodyBytes caps one request body, before and after decompression (default 8 MiB);
	// larger → 413.
	MaxBodyBytes int64
	// Token, when set, is a bearer token the receiver accepts whatever views are open (besides
	// the views' own tokens), and the one that lets it be served beyond loopback
	// (CheckListener). Whoever can post spans can sway verdicts.
	Token specs.Secret
	// MaxSpans bounds the spans kept per key (an attribute and one of its values; default
	// 200,000); the oldest go first. Each key has its own ring: a flood for one evicts only its
	// own older spans.
	MaxSpans int
	// MaxKeys bounds the keys the open views may ask for at once (default 1024): with MaxSpans
	// it bounds the memory spans can take, MaxKeys × MaxSpans × 64 bytes.
	MaxKeys int
	// MaxConcurrentRequests bounds the requests read and decoded at once (default GOMAXPROCS,
	// at least 2); more wait their turn. With MaxBodyBytes it bounds the memory requests take.
	MaxConcurrentRequests int
}

// ViewConfig is one analysis's view of the receiver.
type ViewConfig struct {
	// Attribute is the resource attribute whose value says which environment a span belongs
	// to (default "service.version"; "deployment.environment.name" is the other common one).
	Attribute string
	// Values maps an attribute value to an environment name, e.g. {"v1": "blue", "v2": "green"}.
	// Several values may name the same environment.
	Values map[string]string
	// Token, when set, is a bearer token the receiver accepts while the view is open. While any
	// open view (or the receiver) has a token, every request must carry one of them.
	Token specs.Secret
	// ShapeFactor is the growth in spans per trace of an operation that Shape reports as
	// amplified (default 2: twice as many per request).
	ShapeFactor float64
	// ShapeMinTraces is the fewest traces each side needs (overall, and per root operation for
	// amplification) before Shape reports findings (default 10).
	ShapeMinTraces int
}

// withDefaults validates the config and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.MaxBodyBytes == 0:
		c.MaxBodyBytes = DefaultMaxBodyBytes
	case c.MaxBodyBytes < 0:
		return c, fmt.Errorf("%w: maxBodyBytes must be positive, got %d", ErrConfig, c.MaxBodyBytes)
	}
	switch {
	case c.MaxSpans == 0:
		c.MaxSpans = DefaultMaxSpans
	case c.MaxSpans < 0:
		return c, fmt.Errorf("%w: maxSpans must be positive, got %d", ErrConfig, c.MaxSpans)
	}
	switch {
	case c.MaxKeys == 0:
		c.MaxKeys = DefaultMaxKeys
	case c.MaxKeys < 0:
		return c, fmt.Errorf("%w: maxKeys must be positive, got %d", ErrConfig, c.MaxKeys)
	}
	switch {
	case c.MaxConcurrentRequests == 0:
		c.MaxConcurrentRequests = max(2, runtime.GOMAXPROCS(0))
	case c.MaxConcurrentRequests < 0:
		return c, fmt.Errorf("%w: maxConcurrentRequests must be positive, got %d", ErrConfig, c.MaxConcurrentRequests)
	}
	return c, nil
}

// withDefaults validates the view's config and fills its zero fields.
func (c ViewConfig) withDefaults() (ViewConfig, error) {
	if c.Attribute == "" {
		c.Attribute = DefaultAttribute
	}
	if len(c.Values) == 0 {
		return c, fmt.Errorf("%w: values must map at least one %s value to an environment", ErrConfig, c.Attribute)
	}
	for v, env := range c.Values {
		if strings.TrimSpace(env) == "" {
			return c, fmt.Errorf("%w: value %q maps to an empty environment name", ErrConfig, v)
		}
	}
	switch {
	case c.ShapeFactor == 0:
		c.ShapeFactor = DefaultShapeFactor
	case !(c.ShapeFactor > 1) || math.IsInf(c.ShapeFactor, 0):
		return c, fmt.Errorf("%w: shapeFactor must be a finite number above 1, got %v", ErrConfig, c.ShapeFactor)
	}
	switch {
	case c.ShapeMinTraces == 0:
		c.ShapeMinTraces = DefaultShapeMinTraces
	case c.ShapeMinTraces < 0:
		return c, fmt.Errorf("%w: shapeMinTraces must be positive, got %d", ErrConfig, c.ShapeMinTraces)
	}
	return c, nil
}

// environments returns the distinct environment names of the config, sorted.
func (c ViewConfig) environments() []string {
	var envs []string
	for _, env := range c.Values {
		if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	slices.Sort(envs)
	return envs
}
