package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

// Probes hit blue and green from many goroutines while a test flips faults;
// run with -race this shows the hot path shares nothing unguarded.
func TestConcurrentUse(t *testing.T) {
	store := app.NewStore()
	blue := newTestServer(t, app.Config{Color: "blue", Store: store})
	green := newTestServer(t, app.Config{Color: "green", Store: store, OrderFormat: 2})
	tok := blue.login()
	auth := []string{"Authorization", "Bearer " + tok, "X-Greenlight-Synthetic", "1"}

	const workers, perWorker = 16, 50
	var created atomic.Int64
	stop, flipperDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flipperDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			green.app.SetFaults(app.Faults{ErrorRate: map[string]float64{"/health": float64(i%2) / 2}})
			if r, err := blue.send("PUT", "/admin/faults", fmt.Sprintf(`{"errorRate":{"/health":%d}}`, i%2)); err != nil || r.status != http.StatusOK {
				t.Errorf("PUT /admin/faults = %d, %v", r.status, err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := blue
			if w%2 == 1 {
				s = green
			}
			for range perWorker {
				r, err := s.send("POST", "/api/orders", `{"item":"test","quantity":1}`, auth...)
				if err != nil || r.status != http.StatusCreated {
					t.Errorf("create order = %d, %v; body %s", r.status, err, r.body)
					return
				}
				created.Add(1)
				var order struct{ OrderID string }
				if err := json.Unmarshal(r.body, &order); err != nil {
					t.Errorf("decode order %s: %v", r.body, err)
					return
				}
				if r, err := s.send("GET", "/api/orders/"+order.OrderID, "", auth...); err != nil || r.status != http.StatusOK {
					t.Errorf("get order = %d, %v; body %s", r.status, err, r.body)
				}
				if r, err := s.send("GET", "/health", ""); err != nil || (r.status != http.StatusOK && r.status != http.StatusInternalServerError) {
					t.Errorf("health = %d, %v; body %s", r.status, err, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-flipperDone

	if got, want := store.Len(), int(created.Load()); got != want {
		t.Errorf("store holds %d orders, want %d", got, want)
	}
}
