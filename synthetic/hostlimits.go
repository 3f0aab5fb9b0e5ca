package synthetic

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultHostRateLimit is the requests per second to one host that all the monitors sharing a
// HostLimits may send together, unless told otherwise.
const DefaultHostRateLimit = 100

// HostLimits caps the requests per second sent to each host by every monitor that shares it —
// in greenlight, every monitor of every analysis on one analysis.Engine — so that many
// analyses probing one application together stay as polite as one: each monitor's own rate cap
// (Monitor.RateLimit) still holds, and the host's cap holds over all of them.
//
// Each host (scheme-qualified host:port of an environment's URL, default ports filled in) has a
// token bucket refilled at Rate requests per second and holding Burst. A run takes its requests
// for every host it sends to, from every bucket or from none, when it starts: a run that would
// exceed a host's cap is skipped and counted (reason hostlimit), never delayed. Retries are
// charged after the run. Over any span of time T a host therefore receives at most
// Burst + Rate×T requests from the runs that share it (a single run larger than Burst is let
// through only when the bucket is full).
//
// The zero value and nil cap nothing. A HostLimits is safe for concurrent use.
type HostLimits struct {
	rate, burst float64

	mu    sync.Mutex
	hosts map[string]*bucket
}

// NewHostLimits returns limits of rate requests per second per host, with a burst of one
// second's worth (at least one request). A rate of zero or less caps nothing.
func NewHostLimits(rate float64) *HostLimits {
	return &HostLimits{rate: rate, burst: max(rate, 1)}
}

// Rate is the cap in requests per second per host; 0 when nothing is capped.
func (h *HostLimits) Rate() float64 {
	if !h.capping() {
		return 0
	}
	return h.rate
}

func (h *HostLimits) capping() bool { return h != nil && h.rate > 0 }

// take takes cost (requests per host) from every host's bucket at now, or nothing when any
// lacks it.
func (h *HostLimits) take(now time.Time, cost map[string]float64) bool {
	if !h.capping() || len(cost) == 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hosts == nil {
		h.hosts = map[string]*bucket{}
	}
	for host := range cost {
		b := h.hosts[host]
		if b == nil {
			b = &bucket{tokens: h.burst, burst: h.burst}
			h.hosts[host] = b
		}
		b.refill(now, h.rate)
	}
	for host, c := range cost {
		if b := h.hosts[host]; b.tokens < c && b.tokens < b.burst {
			return false
		}
	}
	for host, c := range cost {
		h.hosts[host].tokens -= c
	}
	return true
}

// debit charges requests sent beyond what a run took (retried attempts), per host.
func (h *HostLimits) debit(extra map[string]float64) {
	if !h.capping() || len(extra) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for host, n := range extra {
		if b := h.hosts[host]; b != nil {
			b.tokens -= n
		}
	}
}

// hostKey names the host a URL's requests go to: scheme, lower-cased host and port (80 or 443
// when the URL leaves it out); the URL itself when it cannot be parsed.
func hostKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// byHost turns requests per environment into requests per host.
func byHost(perEnv map[string]float64, hostOf map[string]string) map[string]float64 {
	out := make(map[string]float64, len(perEnv))
	for env, n := range perEnv {
		out[hostOf[env]] += n
	}
	return out
}
