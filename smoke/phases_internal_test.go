package smoke

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPhasesLatency replays the transport's callbacks at scripted times: the latency runs from
// the request written to the body read, whatever came before, and sums the hops of redirects.
func TestPhasesLatency(t *testing.T) {
	ms := func(n int) time.Time { return time.Unix(0, 0).Add(time.Duration(n) * time.Millisecond) }
	type event struct {
		at   int    // ms
		call string // a ClientTrace callback
	}
	tests := []struct {
		name             string
		events           []event
		end              int // ms: the body read
		latency          time.Duration
		connect, tlsTime time.Duration
	}{
		{
			name: "new connection: dial and handshake left out",
			events: []event{{0, "ConnectStart"}, {5, "ConnectDone"}, {5, "TLSHandshakeStart"}, {12, "TLSHandshakeDone"},
				{12, "GotConn"}, {13, "WroteRequest"}, {20, "GotFirstResponseByte"}},
			end: 22, latency: 9 * time.Millisecond, connect: 5 * time.Millisecond, tlsTime: 7 * time.Millisecond,
		},
		{
			name:   "waiting for a pooled connection left out",
			events: []event{{30, "GotConn"}, {31, "WroteRequest"}, {35, "GotFirstResponseByte"}},
			end:    36, latency: 5 * time.Millisecond,
		},
		{
			name: "redirect: each hop's server time",
			events: []event{{1, "GotConn"}, {2, "WroteRequest"}, {6, "GotFirstResponseByte"},
				{10, "ConnectStart"}, {13, "ConnectDone"}, {13, "GotConn"}, {14, "WroteRequest"}, {17, "GotFirstResponseByte"}},
			end: 19, latency: (4 + 5) * time.Millisecond, connect: 3 * time.Millisecond,
		},
		{
			name:   "request written late by the write goroutine: bounded by the connection's handover",
			events: []event{{1, "GotConn"}, {4, "GotFirstResponseByte"}, {5, "WroteRequest"}},
			end:    6, latency: 5 * time.Millisecond,
		},
		{
			name: "kept-alive connection found dead, request sent again on a new one",
			events: []event{{1, "GotConn"}, {2, "WroteRequest"}, {3, "ConnectStart"}, {4, "ConnectDone"}, {4, "GotConn"},
				{5, "WroteRequest"}, {7, "GotFirstResponseByte"}},
			end: 8, latency: 3 * time.Millisecond, connect: time.Millisecond,
		},
		{
			name:   "failed dial before a good one counts as dialling",
			events: []event{{0, "ConnectStart"}, {2, "ConnectDone!"}, {2, "ConnectStart"}, {3, "ConnectDone"}, {3, "GotConn"}, {3, "WroteRequest"}},
			end:    4, latency: time.Millisecond, connect: 3 * time.Millisecond,
		},
		{
			name: "no callback at all: from the start", end: 4, latency: 4 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			p := &phases{now: func() time.Time { return now }}
			tr := p.trace()
			for _, e := range tt.events {
				now = ms(e.at)
				switch e.call {
				case "ConnectStart":
					tr.ConnectStart("tcp", "h:1")
				case "ConnectDone":
					tr.ConnectDone("tcp", "h:1", nil)
				case "ConnectDone!":
					tr.ConnectDone("tcp", "h:1", errors.New("refused"))
				case "TLSHandshakeStart":
					tr.TLSHandshakeStart()
				case "TLSHandshakeDone":
					tr.TLSHandshakeDone(tls.ConnectionState{}, nil)
				case "GotConn":
					tr.GotConn(httptrace.GotConnInfo{})
				case "WroteRequest":
					tr.WroteRequest(httptrace.WroteRequestInfo{})
				case "GotFirstResponseByte":
					tr.GotFirstResponseByte()
				default:
					t.Fatalf("unknown callback %q", e.call)
				}
			}
			assert.Equal(t, tt.latency, p.latency(ms(0), ms(tt.end)))
			connect, tlsTime := p.setup()
			assert.Equal(t, tt.connect, connect)
			assert.Equal(t, tt.tlsTime, tlsTime)
		})
	}
}

// fakeClock moves only when told to, plus 1µs per reading so that every phase it times is
// positive.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Add(int64(time.Microsecond))) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// slowHandshakeServer is a TLS server whose every handshake takes an hour on clock; its first
// fail requests answer 503, the others 200.
func slowHandshakeServer(t *testing.T, clock *fakeClock, fail int) *httptest.Server {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= int64(fail) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cert := srv.TLS.Certificates[0]
	srv.TLS.Certificates = nil
	srv.TLS.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		clock.advance(time.Hour)
		return &cert, nil
	}
	return srv
}

func runTimed(t *testing.T, clock *fakeClock, url, steps string) *SuiteResult {
	t.Helper()
	docs, err := specs.Parse("t.yaml", []byte("apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: t}\n"+
		"defaults: {tls: {insecure: true}}\nsteps:\n"+steps),
		specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	r := NewRunner("", nil)
	r.now = clock.now
	return r.Run(t.Context(), docs.Suites[0], "green", map[string]Target{"green": {URL: url}})
}

// TestLatencyLeavesOutConnectionSetup: an hour-long TLS handshake is reported as TLS, not in the
// latency (nor in `duration`); the next request on the kept-alive connection has no setup.
func TestLatencyLeavesOutConnectionSetup(t *testing.T) {
	clock := &fakeClock{}
	srv := slowHandshakeServer(t, clock, 0)
	res := runTimed(t, clock, srv.URL, `
  - {name: first, http: {url: /}, expect: ["status == 200", "duration < 1h"]}
  - {name: second, http: {url: /}, expect: ["status == 200", "duration < 1h"]}
`)
	require.True(t, res.Passed(), "%+v", res.Steps)
	first, second := res.Steps[0], res.Steps[1]
	assert.GreaterOrEqual(t, first.TLS, time.Hour, "the handshake")
	assert.Positive(t, first.Connect, "a new connection was dialled")
	assert.Positive(t, first.Latency)
	assert.Less(t, first.Latency, time.Hour, "the latency leaves the handshake out")
	assert.Zero(t, second.Connect, "kept alive")
	assert.Zero(t, second.TLS, "kept alive")
	assert.Positive(t, second.Latency)
}

// TestRetriedStepReportsFinalAttempt: the first attempt dials and shakes hands (an hour) and gets
// a 503; the retry reuses the connection. The step reports the retry's timing alone.
func TestRetriedStepReportsFinalAttempt(t *testing.T) {
	clock := &fakeClock{}
	srv := slowHandshakeServer(t, clock, 1)
	res := runTimed(t, clock, srv.URL, `
  - {name: s, http: {url: /}, retries: {attempts: 2, backoff: 1ms, on: [5xx]}, expect: [status == 200]}
`)
	require.True(t, res.Passed(), "%+v", res.Steps)
	s := res.Steps[0]
	assert.Equal(t, 2, s.Attempts)
	assert.Zero(t, s.Connect, "the retry reused the first attempt's connection")
	assert.Zero(t, s.TLS, "the retry reused the first attempt's connection")
	assert.Positive(t, s.Latency)
	assert.Less(t, s.Latency, time.Hour, "nothing of the first attempt")
}
