package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
)

func ms(n int) app.Duration { return app.Duration(time.Duration(n) * time.Millisecond) }

// Only lower bounds on elapsed time are asserted: a loaded machine can make
// anything slower, never faster.
func TestLatencyInjection(t *testing.T) {
	tests := []struct {
		name    string
		faults  app.Faults
		method  string
		path    string
		body    string
		minWait time.Duration
	}{
		{name: "route latency", faults: app.Faults{Latency: map[string]app.Duration{"/health": ms(150)}},
			method: "GET", path: "/health", minWait: 150 * time.Millisecond},
		{name: "wildcard latency", faults: app.Faults{Latency: map[string]app.Duration{"*": ms(120)}},
			method: "GET", path: "/health", minWait: 120 * time.Millisecond},
		{name: "route key beats wildcard", faults: app.Faults{Latency: map[string]app.Duration{"*": ms(10), "/auth/login": ms(150)}},
			method: "POST", path: "/auth/login", body: `{"username":"testuser","password":"testpass"}`, minWait: 150 * time.Millisecond},
		{name: "route with wildcard segment", faults: app.Faults{Latency: map[string]app.Duration{"/api/orders/{id}": ms(130)}},
			method: "GET", path: "/api/orders/ord-unknown", minWait: 130 * time.Millisecond},
		{name: "jitter adds to latency", faults: app.Faults{
			Latency: map[string]app.Duration{"/health": ms(100)}, Jitter: map[string]app.Duration{"/health": ms(50)}},
			method: "GET", path: "/health", minWait: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, app.Config{Faults: tt.faults, Seed: 1})
			var headers []string
			if strings.HasPrefix(tt.path, "/api/") {
				headers = []string{"Authorization", "Bearer " + s.login()}
			}

			start := time.Now()
			r := s.do(tt.method, tt.path, tt.body, headers...)
			elapsed := time.Since(start)

			if r.status >= 500 {
				t.Fatalf("status = %d, want the route's normal answer; body %s", r.status, r.body)
			}
			if elapsed < tt.minWait {
				t.Errorf("took %v, want at least %v", elapsed, tt.minWait)
			}
		})
	}
}

func TestErrorRate(t *testing.T) {
	const requests = 2000
	tests := []struct {
		name     string
		rate     float64
		min, max int // accepted number of injected 500s
	}{
		// For 3%, the binomial standard deviation over 2000 is about 7.6,
		// so 30..90 is roughly ±4σ around 60: wide, but a broken roll
		// (never, always, or the wrong scale) lands far outside.
		{name: "3 percent", rate: 0.03, min: 30, max: 90},
		{name: "half", rate: 0.5, min: 900, max: 1100},
		{name: "never", rate: 0, min: 0, max: 0},
		{name: "always", rate: 1, min: requests, max: requests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, app.Config{Seed: 42, Faults: app.Faults{ErrorRate: map[string]float64{"/health": tt.rate}}})

			failed := 0
			for range requests {
				r := s.do("GET", "/health", "")
				switch r.status {
				case http.StatusOK:
				case http.StatusInternalServerError:
					r.wantJSON(t, `{"error":"injected fault"}`)
					failed++
				default:
					t.Fatalf("status = %d; body %s", r.status, r.body)
				}
			}

			if failed < tt.min || failed > tt.max {
				t.Errorf("%d of %d requests failed, want %d..%d", failed, requests, tt.min, tt.max)
			}
		})
	}
}

func TestErrorRateIsDeterministicForASeed(t *testing.T) {
	outcomes := func(seed int64) string {
		s := newTestServer(t, app.Config{Seed: seed, Faults: app.Faults{ErrorRate: map[string]float64{"*": 0.3}}})
		var b strings.Builder
		for range 200 {
			if s.do("GET", "/health", "").status == http.StatusOK {
				b.WriteByte('.')
			} else {
				b.WriteByte('X')
			}
		}
		return b.String()
	}

	first, again, other := outcomes(7), outcomes(7), outcomes(8)

	if first != again {
		t.Errorf("seed 7 gave different outcomes:\n%s\n%s", first, again)
	}
	if first == other {
		t.Errorf("seeds 7 and 8 gave the same outcomes: %s", first)
	}
}

func TestErrorRateAppliesOnlyToItsRoute(t *testing.T) {
	s := newTestServer(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/api/orders": 1}}})
	tok := s.login()

	s.do("GET", "/health", "").wantStatus(t, http.StatusOK)
	s.do("POST", "/api/orders", `{"item":"test","quantity":1}`, "Authorization", "Bearer "+tok).
		wantStatus(t, http.StatusInternalServerError)
	if n := s.app.Store().Len(); n != 0 {
		t.Errorf("store holds %d orders; an injected fault must not run the handler", n)
	}
}

// A test can inject a regression in the middle of a run and take it back.
func TestAdminFaultsAtRunTime(t *testing.T) {
	s := newTestServer(t, app.Config{})
	s.do("GET", "/health", "").wantStatus(t, http.StatusOK)

	r := s.do("PUT", "/admin/faults", `{"errorRate":{"*":1},"latency":{"/api/orders":"200ms"}}`)
	r.wantStatus(t, http.StatusOK)
	r.wantJSON(t, `{"errorRate":{"*":1},"latency":{"/api/orders":"200ms"}}`)

	t.Run("faults take effect", func(t *testing.T) {
		s.do("GET", "/health", "").wantStatus(t, http.StatusInternalServerError)
	})
	t.Run("GET reports them", func(t *testing.T) {
		r := s.do("GET", "/admin/faults", "")
		r.wantStatus(t, http.StatusOK)
		r.wantJSON(t, `{"errorRate":{"*":1},"latency":{"/api/orders":"200ms"}}`)
	})
	t.Run("App.Faults reports them", func(t *testing.T) {
		got := s.app.Faults()
		if got.ErrorRate["*"] != 1 || got.Latency["/api/orders"] != ms(200) {
			t.Errorf("Faults() = %+v", got)
		}
	})
	t.Run("empty document clears them", func(t *testing.T) {
		s.do("PUT", "/admin/faults", `{}`).wantStatus(t, http.StatusOK)
		s.do("GET", "/health", "").wantStatus(t, http.StatusOK)
		s.do("GET", "/admin/faults", "").wantJSON(t, `{}`)
	})
}

func TestSetFaults(t *testing.T) {
	s := newTestServer(t, app.Config{})
	f := app.Faults{ErrorRate: map[string]float64{"/health": 1}}

	s.app.SetFaults(f)
	f.ErrorRate["/health"] = 0 // the app must hold its own copy

	s.do("GET", "/health", "").wantStatus(t, http.StatusInternalServerError)
	s.app.SetFaults(app.Faults{})
	s.do("GET", "/health", "").wantStatus(t, http.StatusOK)
}

func TestPutFaultsRejectsInvalid(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantError string
	}{
		{name: "unknown route", body: `{"latency":{"/api/order":"1s"}}`, wantError: `unknown route "/api/order"`},
		{name: "negative latency", body: `{"latency":{"/health":"-1s"}}`, wantError: "negative"},
		{name: "negative jitter", body: `{"jitter":{"*":"-5ms"}}`, wantError: "negative"},
		{name: "rate above one", body: `{"errorRate":{"/health":1.5}}`, wantError: "outside [0, 1]"},
		{name: "negative rate", body: `{"errorRate":{"/health":-0.1}}`, wantError: "outside [0, 1]"},
		{name: "duration as number", body: `{"latency":{"/health":200}}`, wantError: "malformed JSON"},
		{name: "bad duration", body: `{"latency":{"/health":"soon"}}`, wantError: "malformed JSON"},
		{name: "unknown knob", body: `{"latencies":{"/health":"1s"}}`, wantError: "unknown field"},
		{name: "admin route is not a fault key", body: `{"errorRate":{"/admin/faults":1}}`, wantError: "unknown route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := app.Faults{Latency: map[string]app.Duration{"/slow": ms(1)}}
			s := newTestServer(t, app.Config{Faults: before})

			r := s.do("PUT", "/admin/faults", tt.body)

			r.wantStatus(t, http.StatusBadRequest)
			if msg, _ := r.object(t)["error"].(string); !strings.Contains(msg, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
			}
			if got := s.app.Faults(); got.Latency["/slow"] != ms(1) || len(got.ErrorRate)+len(got.Jitter) != 0 {
				t.Errorf("faults changed to %+v after a rejected PUT", got)
			}
		})
	}
}

// The admin endpoint must stay reachable whatever faults are set, or a test
// could lock itself out.
func TestAdminIsExemptFromFaults(t *testing.T) {
	s := newTestServer(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"*": 1}}})

	s.do("GET", "/admin/faults", "").wantStatus(t, http.StatusOK)
	s.do("PUT", "/admin/faults", `{}`).wantStatus(t, http.StatusOK)
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name    string
		faults  app.Faults
		wantErr []string // substrings; none means valid
	}{
		{name: "empty"},
		{name: "every known route", faults: app.Faults{ErrorRate: func() map[string]float64 {
			m := map[string]float64{"*": 0.1}
			for _, r := range app.FaultRoutes() {
				m[r] = 0.5
			}
			return m
		}()}},
		{name: "several problems reported together",
			faults: app.Faults{
				Latency:   map[string]app.Duration{"/nope": ms(1)},
				ErrorRate: map[string]float64{"/health": 2},
			},
			wantErr: []string{`latency: unknown route "/nope"`, "errorRate[/health]: 2 is outside [0, 1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.faults.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    app.Duration
		wantErr bool
	}{
		{name: "milliseconds", in: `"200ms"`, want: ms(200)},
		{name: "fractional seconds", in: `"1.5s"`, want: ms(1500)},
		{name: "zero", in: `"0s"`, want: 0},
		{name: "number is rejected", in: `200`, wantErr: true},
		{name: "no unit", in: `"200"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d app.Duration
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr {
				if err == nil {
					t.Errorf("Unmarshal(%s) = %v, want an error", tt.in, d)
				}
				return
			}
			if err != nil || d != tt.want {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", tt.in, d, err, tt.want)
			}
			out, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back app.Duration
			if err := json.Unmarshal(out, &back); err != nil || back != d {
				t.Errorf("round trip via %s = %v, %v; want %v", out, back, err, d)
			}
		})
	}
}
