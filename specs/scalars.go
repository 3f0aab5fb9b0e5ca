package specs

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go duration text ("300ms", "1m30s"); a bare number is
// rejected because "5" could mean seconds or milliseconds and a silent guess is worse than an error.
type Duration time.Duration

func (du *Duration) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a duration")
	if !ok || isNull(n) {
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			d.errorf(n, "duration %q needs a unit, e.g. %sms or %ss", s, s, s)
			return
		}
		d.errorf(n, "invalid duration %q: use Go duration syntax such as 300ms, 5s, 1m30s", s)
		return
	}
	if v < 0 {
		d.errorf(n, "duration %q must not be negative", s)
		return
	}
	*du = Duration(v)
}

// D returns the time.Duration.
func (du Duration) D() time.Duration { return time.Duration(du) }

func (du Duration) String() string { return time.Duration(du).String() }

func (du Duration) MarshalYAML() (any, error)    { return du.String(), nil }
func (du Duration) MarshalJSON() ([]byte, error) { return json.Marshal(du.String()) }

// ByteSize is a size in bytes, written as an integer or with a unit: 512KiB, 1MiB, 10MB.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

func (b *ByteSize) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a size")
	if !ok || isNull(n) {
		return
	}
	v, err := parseByteSize(s)
	if err != nil {
		d.errorf(n, "invalid size %q: use bytes or a unit such as 512KiB or 10MiB", s)
		return
	}
	*b = ByteSize(v)
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("invalid size")
	}
	return v * mult, nil
}

func (b ByteSize) MarshalYAML() (any, error) { return int64(b), nil }

func quote(s string) string { return strconv.Quote(s) }

// resolvePath makes a path in a spec relative to the spec file's folder.
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
