package synthetic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestHostLimitsBound: two monitors taking from one host's bucket at their own pace never get
// more than Burst + Rate×T requests through together over any span T, while each alone would
// send far more; a run's requests are taken from every host it reaches or from none.
func TestHostLimitsBound(t *testing.T) {
	h := NewHostLimits(10)
	t0 := time.Unix(1000, 0)
	host := "http://app.test:80"
	var sent []time.Time // one entry per request let through
	for ms := 0; ms < 5000; ms += 7 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		// Monitor a: one request per run; monitor b: three (its runs start at other moments).
		for _, cost := range []float64{1, 3} {
			if h.take(now, map[string]float64{host: cost}) {
				for range int(cost) {
					sent = append(sent, now)
				}
			}
			now = now.Add(3 * time.Millisecond)
		}
	}
	assert.Greater(t, len(sent), 40, "the cap lets traffic through")
	for i := range sent {
		for j := i; j < len(sent); j++ {
			span := sent[j].Sub(sent[i]).Seconds()
			if n := float64(j - i + 1); n > h.burst+h.rate*span {
				t.Fatalf("%v requests within %.3fs: above burst %v + rate %v × T", n, span, h.burst, h.rate)
			}
		}
	}
}

func TestHostLimitsAllOrNothing(t *testing.T) {
	h := NewHostLimits(4)
	now := time.Unix(1000, 0)
	a, b := "http://a.test:80", "http://b.test:80"
	assert.True(t, h.take(now, map[string]float64{a: 4}))
	assert.False(t, h.take(now, map[string]float64{a: 1, b: 1}), "a is empty: neither is charged")
	assert.True(t, h.take(now, map[string]float64{b: 4}), "b kept its tokens")
	now = now.Add(500 * time.Millisecond)
	assert.True(t, h.take(now, map[string]float64{a: 2}), "half a second refills two")
	h.debit(map[string]float64{a: 2})
	assert.False(t, h.take(now.Add(250*time.Millisecond), map[string]float64{a: 1}), "retries were charged")
}

func TestHostLimitsOff(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, h := range []*HostLimits{nil, {}, NewHostLimits(0)} {
		for range 1000 {
			assert.True(t, h.take(now, map[string]float64{"http://a.test:80": 5}))
		}
		assert.Zero(t, h.Rate())
	}
}

// A run larger than the burst is let through when the bucket is full, and the host then waits
// for the tokens it overdrew.
func TestHostLimitsLargeRun(t *testing.T) {
	h := NewHostLimits(2)
	now := time.Unix(1000, 0)
	host := "http://a.test:80"
	assert.True(t, h.take(now, map[string]float64{host: 5}))
	assert.False(t, h.take(now.Add(time.Second), map[string]float64{host: 1}), "3 overdrawn, 2 refilled")
	assert.True(t, h.take(now.Add(2*time.Second), map[string]float64{host: 1}))
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"http://App.Test":          "http://app.test:80",
		"http://app.test:80/x":     "http://app.test:80",
		"https://app.test":         "https://app.test:443",
		"http://app.test:8080/a/b": "http://app.test:8080",
		"http://[::1]:9/":          "http://[::1]:9",
	} {
		assert.Equal(t, want, hostKey(in), in)
	}
}
