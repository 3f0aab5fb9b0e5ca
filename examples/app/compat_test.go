package app_test

import (
	"net/http"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

// TestSharedStoreCompatibility is the rollback hazard from the blue/green
// guide: green (v2) writes orders in a new shape to the shared database;
// blue (v1) reads them fine if it is tolerant, and fails if it is not.
func TestSharedStoreCompatibility(t *testing.T) {
	tests := []struct {
		name         string
		writer       app.Config
		reader       app.Config
		wantStatus   int
		wantQuantity any
	}{
		{name: "v1 reads v2 tolerantly",
			writer: app.Config{Color: "green", OrderFormat: 2}, reader: app.Config{Color: "blue"},
			wantStatus: http.StatusOK, wantQuantity: float64(1)},
		{name: "strict v1 cannot read v2",
			writer: app.Config{Color: "green", OrderFormat: 2}, reader: app.Config{Color: "blue", StrictRead: true},
			wantStatus: http.StatusInternalServerError},
		{name: "strict v1 reads v1",
			writer: app.Config{Color: "green"}, reader: app.Config{Color: "blue", StrictRead: true},
			wantStatus: http.StatusOK, wantQuantity: float64(1)},
		{name: "strict v2 reads v1 written before the upgrade",
			writer: app.Config{Color: "blue"}, reader: app.Config{Color: "green", OrderFormat: 2, StrictRead: true},
			wantStatus: http.StatusOK, wantQuantity: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := app.NewStore()
			tt.writer.Store, tt.reader.Store = store, store
			writer := newTestServer(t, tt.writer)
			reader := newTestServer(t, tt.reader)
			id := writer.createOrder()["orderId"].(string)

			r := reader.authed("GET", "/api/orders/"+id, "")

			r.wantStatus(t, tt.wantStatus)
			got := r.object(t)
			if tt.wantStatus != http.StatusOK {
				if got["error"] != "cannot decode order written by a newer version" {
					t.Errorf("error = %v", got["error"])
				}
				return
			}
			if got["orderId"] != id || got["quantity"] != tt.wantQuantity {
				t.Errorf("order = %s, want id %s and quantity %#v", r.body, id, tt.wantQuantity)
			}
		})
	}
}

func TestPrivateStoresAreSeparate(t *testing.T) {
	blue := newTestServer(t, app.Config{Color: "blue"})
	green := newTestServer(t, app.Config{Color: "green"})
	id := green.createOrder()["orderId"].(string)

	r := blue.authed("GET", "/api/orders/"+id, "")

	r.wantStatus(t, http.StatusNotFound)
}
