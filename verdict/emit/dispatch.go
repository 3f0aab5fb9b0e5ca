package emit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Options configure a Dispatcher. Outbox and Emitters are required.
type Options struct {
	Outbox Outbox
	// Emitters maps each endpoint's name to its integration. A delivery to a name not here
	// fails (retryably: a configuration reload may bring the endpoint back).
	Emitters map[string]Emitter
	Policy   Policy // zero: DefaultPolicy
	// Workers bounds the attempts in flight (default 4).
	Workers int
	// Lease is how long a claimed delivery stays away from other claims; it must outlast one
	// attempt (default 2 minutes).
	Lease time.Duration
	// Poll is the longest the dispatcher sleeps without looking at the outbox, for deliveries
	// another process enqueued without calling Notify (default 30 seconds).
	Poll   time.Duration
	Logger *slog.Logger // default: discard
	// Now and Rand replace the clock and the jitter source (tests); Rand returns values in
	// [0, 1).
	Now  func() time.Time
	Rand func() float64
}

// Dispatcher delivers what its outbox holds, through each endpoint's Emitter, with one retry
// policy for all: it claims due deliveries, makes one attempt each, and records the outcome —
// delivered, due again later, dead, or its endpoint disabled (410 Gone).
//
// One of Run or Drain runs at a time on a dispatcher.
type Dispatcher struct {
	o    Options
	wake chan struct{}
	sem  chan struct{}
	wg   sync.WaitGroup

	mu       sync.RWMutex
	emitters map[string]Emitter
}

// NewDispatcher checks the options and applies their defaults.
func NewDispatcher(o Options) (*Dispatcher, error) {
	if o.Outbox == nil {
		return nil, errors.New("dispatcher: no outbox")
	}
	if o.Policy == (Policy{}) {
		o.Policy = DefaultPolicy()
	}
	if err := o.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("dispatcher: retry policy: %w", err)
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	d := &Dispatcher{o: o, wake: make(chan struct{}, 1), sem: make(chan struct{}, o.Workers)}
	d.SetEmitters(o.Emitters)
	return d, nil
}

// SetEmitters replaces the endpoints' emitters, for a configuration reload: attempts in flight
// finish with the emitter they started with, later ones use the new set. Deliveries to an
// endpoint no longer there fail and are retried until it comes back or they are dead.
func (d *Dispatcher) SetEmitters(emitters map[string]Emitter) {
	m := make(map[string]Emitter, len(emitters))
	for k, v := range emitters {
		m[k] = v
	}
	d.mu.Lock()
	d.emitters = m
	d.mu.Unlock()
	d.Notify()
}

func (d *Dispatcher) emitter(endpoint string) Emitter {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.emitters[endpoint]
}

// Notify tells the dispatcher that deliveries were enqueued, so that it looks now rather than
// at its next poll. It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight and returns ctx's error.
// An attempt cut short by ctx is not recorded: its lease runs out and it is made again.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer d.wg.Wait()
	for {
		wait, err := d.pass(ctx)
		if err != nil {
			d.o.Logger.Error("webhook outbox", "err", err)
			wait = d.o.Poll
		}
		if wait < 0 || wait > d.o.Poll {
			wait = d.o.Poll
		}
		if !d.sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// Drain delivers until no pending delivery is left that could still be made — each is
// delivered, dead, or waits for a disabled endpoint — and returns; or until ctx ends. It is the
// one-shot mode: a run that enqueued its events drains them before exiting, retries included.
func (d *Dispatcher) Drain(ctx context.Context) error {
	defer d.wg.Wait()
	for {
		wait, err := d.pass(ctx)
		if err != nil {
			return err
		}
		if wait < 0 {
			if d.idle() {
				return nil
			}
			wait = d.o.Poll // an attempt in flight wakes us when it is recorded
		}
		if !d.sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// pass starts attempts for due deliveries, as many as there are free workers, and returns how
// long until the next one is due (negative: none pending; zero: more are due now). With every
// worker busy it returns the poll interval: a worker that finishes wakes the loop.
func (d *Dispatcher) pass(ctx context.Context) (time.Duration, error) {
	free := cap(d.sem) - len(d.sem)
	if free == 0 {
		return d.o.Poll, nil
	}
	recs, err := d.o.Outbox.Claim(ctx, d.o.Now(), free, d.o.Lease)
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	for _, r := range recs {
		d.sem <- struct{}{}
		d.wg.Go(func() {
			defer func() {
				<-d.sem
				d.Notify()
			}()
			d.attempt(ctx, r)
		})
	}
	if len(recs) == free {
		return 0, nil
	}
	at, ok, err := d.o.Outbox.NextDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("next due delivery: %w", err)
	}
	if !ok {
		return -1, nil
	}
	return max(at.Sub(d.o.Now()), 0), nil
}

func (d *Dispatcher) idle() bool { return len(d.sem) == 0 }

// sleep waits for wait, a Notify, or the end of ctx (false).
func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) bool {
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-d.wake:
	case <-t.C:
	}
	return true
}

// attempt makes one attempt at r and records its outcome.
func (d *Dispatcher) attempt(ctx context.Context, r Record) {
	log := d.o.Logger.With("delivery", r.ID, "endpoint", r.Endpoint, "event", string(r.Type), "attempt", r.Attempts+1)
	var (
		retry bool
		err   error
	)
	if em := d.emitter(r.Endpoint); em != nil {
		retry, err = em.Emit(ctx, r.Delivery)
	} else {
		retry, err = true, fmt.Errorf("no endpoint named %q is configured", r.Endpoint)
	}
	if ctx.Err() != nil {
		return // stopping: the lease runs out and the attempt is made again
	}
	now := d.o.Now()
	attempts := r.Attempts + 1
	if err == nil {
		if merr := d.o.Outbox.MarkDelivered(ctx, r.Key(), attempts, now); merr != nil {
			log.Error("record webhook delivery", "err", merr)
		}
		log.Debug("webhook delivered")
		return
	}
	f := Failure{Attempts: attempts, At: now, Error: err.Error()}
	switch {
	case errors.Is(err, ErrGone):
		f.Dead = true
		if derr := d.o.Outbox.DisableEndpoint(ctx, r.Endpoint, err.Error(), now); derr != nil {
			log.Error("disable webhook endpoint", "err", derr)
		}
		log.Warn("webhook endpoint gone: disabled until enabled by hand", "err", err)
	case !retry:
		f.Dead = true
	default:
		var retryAfter string
		var se *StatusError
		if errors.As(err, &se) {
			retryAfter = se.RetryAfter
		}
		f.Next, f.Dead = d.o.Policy.Next(attempts, r.Since, now, retryAfter, d.o.Rand())
	}
	if f.Dead {
		log.Warn("webhook delivery dead: kept for redelivery by hand", "err", err, "retryable", retry)
	} else {
		log.Info("webhook delivery failed: will retry", "err", err, "next", f.Next)
	}
	if merr := d.o.Outbox.MarkFailed(ctx, r.Key(), f); merr != nil {
		log.Error("record webhook failure", "err", merr)
	}
}
