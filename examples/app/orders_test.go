package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
)

var orderID = regexp.MustCompile(`^ord-[0-9a-f]{16}$`)

func TestCreateOrder(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		noAuth     bool
		wantStatus int
		wantError  string
	}{
		{name: "happy path", body: `{"item":"test","quantity":1}`, wantStatus: http.StatusCreated},
		{name: "unknown fields are ignored", body: `{"item":"test","quantity":3,"note":"x"}`, wantStatus: http.StatusCreated},
		{name: "zero quantity", body: `{"item":"test","quantity":0}`, wantStatus: http.StatusBadRequest, wantError: "quantity"},
		{name: "negative quantity", body: `{"item":"test","quantity":-2}`, wantStatus: http.StatusBadRequest, wantError: "quantity"},
		{name: "missing quantity", body: `{"item":"test"}`, wantStatus: http.StatusBadRequest, wantError: "quantity"},
		{name: "missing item", body: `{"quantity":1}`, wantStatus: http.StatusBadRequest, wantError: "item"},
		{name: "blank item", body: `{"item":"  ","quantity":1}`, wantStatus: http.StatusBadRequest, wantError: "item"},
		{name: "fractional quantity", body: `{"item":"test","quantity":1.5}`, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "malformed JSON", body: `{"item":`, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "no token", body: `{"item":"test","quantity":1}`, noAuth: true, wantStatus: http.StatusUnauthorized, wantError: "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, app.Config{})
			before := time.Now().UTC().Truncate(time.Second)

			var r reply
			if tt.noAuth {
				r = s.do("POST", "/api/orders", tt.body)
			} else {
				r = s.authed("POST", "/api/orders", tt.body)
			}

			r.wantStatus(t, tt.wantStatus)
			got := r.object(t)
			if tt.wantError != "" {
				if msg, _ := got["error"].(string); !strings.Contains(msg, tt.wantError) {
					t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
				}
				if n := s.app.Store().Len(); n != 0 {
					t.Errorf("store holds %d orders after a rejected request", n)
				}
				return
			}
			if id, _ := got["orderId"].(string); !orderID.MatchString(id) {
				t.Errorf("orderId = %q, want %s", id, orderID)
			}
			if got["item"] != "test" || got["synthetic"] != false {
				t.Errorf("order = %s, want item test and synthetic false", r.body)
			}
			created, err := time.Parse(time.RFC3339, got["createdAt"].(string))
			if err != nil || created.Before(before) {
				t.Errorf("createdAt = %v (%v), want RFC3339 not before %v", got["createdAt"], err, before)
			}
			if n := s.app.Store().Len(); n != 1 {
				t.Errorf("store holds %d orders, want 1", n)
			}
		})
	}
}

func TestGetOrder(t *testing.T) {
	s := newTestServer(t, app.Config{})
	created := s.createOrder()
	id := created["orderId"].(string)
	tests := []struct {
		name       string
		path       string
		noAuth     bool
		wantStatus int
	}{
		{name: "existing order", path: "/api/orders/" + id, wantStatus: http.StatusOK},
		{name: "unknown order", path: "/api/orders/ord-0000000000000000", wantStatus: http.StatusNotFound},
		{name: "no token", path: "/api/orders/" + id, noAuth: true, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			if tt.noAuth {
				r = s.do("GET", tt.path, "")
			} else {
				r = s.authed("GET", tt.path, "")
			}

			r.wantStatus(t, tt.wantStatus)
			got := r.object(t)
			if tt.wantStatus != http.StatusOK {
				if _, ok := got["error"]; !ok {
					t.Errorf("body %s has no error field", r.body)
				}
				return
			}
			for k, v := range created {
				if got[k] != v {
					t.Errorf("%s = %v, want %v as created", k, got[k], v)
				}
			}
		})
	}
}

func TestSyntheticFlag(t *testing.T) {
	tests := []struct {
		name    string
		cfg     app.Config
		headers []string
		want    bool
	}{
		{name: "no header", want: false},
		{name: "default header set to 1", headers: []string{"X-Greenlight-Synthetic", "1"}, want: true},
		{name: "default header set to true", headers: []string{"X-Greenlight-Synthetic", "true"}, want: true},
		{name: "default header set to 0", headers: []string{"X-Greenlight-Synthetic", "0"}, want: false},
		{name: "default header with junk value", headers: []string{"X-Greenlight-Synthetic", "maybe"}, want: false},
		{name: "custom header", cfg: app.Config{SyntheticHeader: "X-Probe"}, headers: []string{"X-Probe", "1"}, want: true},
		{name: "default header ignored once renamed", cfg: app.Config{SyntheticHeader: "X-Probe"},
			headers: []string{"X-Greenlight-Synthetic", "1"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.cfg)

			created := s.createOrder(tt.headers...)

			if created["synthetic"] != tt.want {
				t.Errorf("response synthetic = %v, want %v", created["synthetic"], tt.want)
			}
			stored, ok := s.app.Store().Get(created["orderId"].(string))
			if !ok || stored.Synthetic != tt.want {
				t.Errorf("stored order = %+v (found %v), want Synthetic %v", stored, ok, tt.want)
			}
			r := s.authed("GET", "/api/orders/"+created["orderId"].(string), "")
			r.wantStatus(t, http.StatusOK)
			if got := r.object(t)["synthetic"]; got != tt.want {
				t.Errorf("read back synthetic = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOrderFormat(t *testing.T) {
	tests := []struct {
		name         string
		format       int
		wantQuantity any
	}{
		{name: "default is v1", format: 0, wantQuantity: float64(2)},
		{name: "v1 writes a number", format: 1, wantQuantity: float64(2)},
		{name: "v2 writes a string", format: 2, wantQuantity: "2"},
		{name: "unknown format falls back to v1", format: 7, wantQuantity: float64(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, app.Config{OrderFormat: tt.format})

			r := s.authed("POST", "/api/orders", `{"item":"test","quantity":2}`)

			r.wantStatus(t, http.StatusCreated)
			if got := r.object(t)["quantity"]; got != tt.wantQuantity {
				t.Errorf("quantity = %#v, want %#v", got, tt.wantQuantity)
			}
		})
	}
}
