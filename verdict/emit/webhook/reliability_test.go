package webhook_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/emittest"
	"github.com/greenlight/greenlight/verdict/emit/webhook"
)

// flakyReceiver fails 30% of the requests it gets, at random: 500 and 503 before doing
// anything, 429 with a Retry-After (in seconds or as a date), and — after it has processed
// the message, so that the sender cannot know — a timeout or a reset connection. It checks
// every request's signature with the independent verifier, and that no retry comes before
// the Retry-After it asked for.
type flakyReceiver struct {
	mu       sync.Mutex
	rng      *rand.Rand
	received map[string][][]byte // processed messages by webhook-id
	failures map[string]int      // by kind
	badSigs  int
	early    int                  // retries that came before the Retry-After
	notUntil map[string]time.Time // webhook-id → Retry-After deadline
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id := r.Header.Get("webhook-id")
	now := time.Now()
	f.mu.Lock()
	if verify([]string{vectorSecret}, r.Header, body, now) != nil {
		f.badSigs++
	}
	if until, ok := f.notUntil[id]; ok && now.Before(until) {
		f.early++
	}
	roll := f.rng.Float64()
	kind := ""
	switch {
	case roll < 0.05:
		kind = "500"
	case roll < 0.10:
		kind = "503"
	case roll < 0.15:
		kind = "429"
	case roll < 0.20:
		kind = "429-date"
	case roll < 0.25:
		kind = "timeout"
	case roll < 0.30:
		kind = "reset"
	}
	if kind == "" || kind == "timeout" || kind == "reset" {
		f.received[id] = append(f.received[id], body)
	}
	if kind != "" {
		f.failures[kind]++
	}
	switch kind {
	case "429":
		f.notUntil[id] = now.Add(20 * time.Second)
	case "429-date":
		// An HTTP-date has whole seconds: the sender may come back within the second it names.
		f.notUntil[id] = now.Add(30 * time.Second).Truncate(time.Second)
	}
	f.mu.Unlock()

	switch kind {
	case "":
		w.WriteHeader(http.StatusNoContent)
	case "500":
		http.Error(w, "internal error", http.StatusInternalServerError)
	case "503":
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case "429":
		w.Header().Set("Retry-After", "20")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "429-date":
		w.Header().Set("Retry-After", now.Add(30*time.Second).UTC().Format(http.TimeFormat))
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "timeout":
		<-r.Context().Done() // processed, but the answer never comes
	case "reset":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
}

// counter answers every request with one status and counts them by webhook-id.
type counter struct {
	mu    sync.Mutex
	code  int
	count map[string]int
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	c.mu.Lock()
	c.count[r.Header.Get("webhook-id")]++
	c.mu.Unlock()
	w.WriteHeader(c.code)
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.count {
		n += v
	}
	return n
}

// watched is the in-memory outbox, signalling each recorded outcome.
type watched struct {
	*emit.Memory
	changed chan struct{}
}

func (w *watched) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *watched) MarkDelivered(ctx context.Context, k emit.Key, attempts int, at time.Time) error {
	defer w.signal()
	return w.Memory.MarkDelivered(ctx, k, attempts, at)
}

func (w *watched) MarkFailed(ctx context.Context, k emit.Key, f emit.Failure) error {
	defer w.signal()
	return w.Memory.MarkFailed(ctx, k, f)
}

// TestDeliveryIsReliable is the end-to-end check of durable delivery: 240 verdicts go to a
// receiver that fails 30% of its requests at random and is down for a minute and a half in
// the middle. Every verdict arrives, signed as the specification says; the only repeats are
// of the same webhook-id with the same bytes; Retry-After is honoured; an endpoint answering
// 400 gets each message once; one answering 410 is disabled and gets nothing more.
func TestDeliveryIsReliable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			verdicts = 240
			every    = time.Second
			downFrom = 60 * time.Second
			downTo   = 150 * time.Second
		)
		start := time.Now()
		nw := memnet.New()
		flaky := &flakyReceiver{
			rng:      rand.New(rand.NewPCG(12, 2026)),
			received: map[string][][]byte{}, failures: map[string]int{}, notUntil: map[string]time.Time{},
		}
		strict := &counter{code: http.StatusBadRequest, count: map[string]int{}}
		gone := &counter{code: http.StatusGone, count: map[string]int{}}
		mainURL := nw.Serve(t, "hooks.test:80", flaky)
		strictURL := nw.Serve(t, "strict.test:80", strict)
		goneURL := nw.Serve(t, "gone.test:80", gone)

		var refused int
		var refusedMu sync.Mutex
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			if since := time.Since(start); addr == "hooks.test:80" && since >= downFrom && since < downTo {
				refusedMu.Lock()
				refused++
				refusedMu.Unlock()
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return nw.DialContext(ctx, network, addr)
		}
		transport := &http.Transport{DialContext: dial, DisableKeepAlives: true}
		client := &http.Client{Transport: transport}
		defer transport.CloseIdleConnections()

		emitters := map[string]emit.Emitter{}
		for name, url := range map[string]string{"main": mainURL, "strict": strictURL, "gone": goneURL} {
			n, err := webhook.New(webhook.Config{
				Name: name, URL: secret.Secret(url + "/greenlight"), Timeout: 5 * time.Second,
				Secrets: []secret.Secret{vectorSecret, oldSecret}, // rotating: the receiver knows the new one
			}, webhook.Options{Client: client})
			require.NoError(t, err)
			emitters[name] = n
		}
		out := &watched{Memory: emit.NewMemory(), changed: make(chan struct{}, 1)}
		policy := emit.Policy{MinBackoff: time.Second, MaxBackoff: 30 * time.Second, MaxAttempts: 40, MaxAge: time.Hour}
		jitter := rand.New(rand.NewPCG(7, 7))
		var jitterMu sync.Mutex
		d, err := emit.NewDispatcher(emit.Options{
			Outbox: out, Emitters: emitters, Policy: policy, Workers: 4,
			Rand: func() float64 { jitterMu.Lock(); defer jitterMu.Unlock(); return jitter.Float64() },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan error)
		go func() { stopped <- d.Run(ctx) }()

		// The 400 and 410 endpoints get five events each, enqueued first.
		ev := emittest.Events()[2]
		payloads := map[string][]byte{}
		enqueue := func(endpoint string) string {
			ev.Time = time.Now()
			b, err := emit.Encode(ev, emittest.Links, nil)
			require.NoError(t, err)
			id := emit.NewID(ev.Time)
			payloads[id] = b
			require.NoError(t, out.Enqueue(time.Now(), emit.Delivery{ID: id, Endpoint: endpoint, Type: ev.Type, Timestamp: ev.Time, Payload: b}))
			d.Notify()
			return id
		}
		for range 5 {
			enqueue("strict")
			enqueue("gone")
		}
		var mainIDs []string
		for range verdicts {
			mainIDs = append(mainIDs, enqueue("main"))
			time.Sleep(every)
		}

		settled := func() bool {
			for _, r := range out.List() {
				if r.State == emit.Pending && r.Endpoint != "gone" {
					return false
				}
			}
			return true
		}
		deadline := time.After(2 * time.Hour) // fake time: far beyond what the policy needs
		for !settled() {
			select {
			case <-out.changed:
			case <-deadline:
				t.Fatal("deliveries still pending after two hours")
			}
		}
		cancel()
		assert.ErrorIs(t, <-stopped, context.Canceled)

		flaky.mu.Lock()
		defer flaky.mu.Unlock()
		duplicates := 0
		for _, id := range mainIDs {
			bodies := flaky.received[id]
			if !assert.NotEmpty(t, bodies, "verdict %s never arrived", id) {
				continue
			}
			duplicates += len(bodies) - 1
			for _, b := range bodies {
				assert.True(t, bytes.Equal(payloads[id], b), "a repeat of %s is the same message", id)
			}
			r, _ := out.Get(emit.Key{ID: id, Endpoint: "main"})
			assert.Equal(t, emit.Delivered, r.State, id)
		}
		assert.Len(t, flaky.received, verdicts, "nothing but the verdicts sent")
		assert.Zero(t, flaky.badSigs, "every request verified by the independent check")
		assert.Zero(t, flaky.early, "no retry before the Retry-After")
		assert.Positive(t, duplicates, "answers lost after processing: the same webhook-id again")
		assert.Positive(t, refused, "the receiver was down for a stretch")
		for _, kind := range []string{"500", "503", "429", "429-date", "timeout", "reset"} {
			assert.Positive(t, flaky.failures[kind], "failure kind %s exercised", kind)
		}

		strict.mu.Lock()
		for id, n := range strict.count {
			assert.Equal(t, 1, n, "a 400 is never retried: %s", id)
		}
		strict.mu.Unlock()
		assert.Equal(t, 5, strict.total())
		disabled := out.Disabled()
		assert.Contains(t, disabled["gone"], "410")
		dead, pending := 0, 0
		for _, r := range out.List() {
			switch {
			case r.Endpoint == "strict":
				assert.Equal(t, emit.Dead, r.State)
				assert.Equal(t, 1, r.Attempts)
			case r.Endpoint == "gone" && r.State == emit.Dead:
				dead++
			case r.Endpoint == "gone" && r.State == emit.Pending:
				pending++
				assert.Zero(t, r.Attempts, "nothing sent to a disabled endpoint")
			}
		}
		assert.Equal(t, 5, dead+pending)
		assert.Equal(t, dead, gone.total(), "each 410 answered one request; none came after the endpoint was disabled")
		t.Logf("%d verdicts, %d repeats, %d refused dials, failures %v, gone: %d answered 410, %d kept pending",
			verdicts, duplicates, refused, flaky.failures, dead, pending)
	})
}
