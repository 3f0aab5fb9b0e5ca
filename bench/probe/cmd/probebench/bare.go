package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

// bare is the floor under greenlight on this machine: the same paired GETs, paced the same way
// (workers on a fixed tick, the same random jitter before each pair, blue and green at once), sent by a plain net/http client on a
// transport set up as smoke's is, with nothing else: no suite, conditions, trace header,
// scheduling rules, metrics or pairs. What greenlight costs beyond it is the engine's own.
type bare struct {
	client      *http.Client
	blue, green string
	server      *target.Client
}

func newBare(blue, green string, server *target.Client) *bare {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &bare{client: &http.Client{Transport: tr}, blue: blue, green: green, server: server}
}

// run sends s.monitors workers' paired GETs for s.duration. A tick that comes while the
// worker's previous pair is still out is dropped (time.Ticker drops it), as the engine skips
// an overlapping run. With ids, each request carries id=bare-N and its latency is kept by id.
func (b *bare) run(ctx context.Context, s engineSpec, ids bool) (*engineResult, map[string]time.Duration, error) {
	var (
		mu       sync.Mutex
		lat      []int64
		byID     = map[string]time.Duration{}
		failed   atomic.Int64
		seq      atomic.Int64
		firstErr error
	)
	get := func(ctx context.Context, base string) {
		u := base + s.path
		id := ""
		if ids {
			id = "bare-" + strconv.FormatInt(seq.Add(1), 10)
			u += sep(u) + "id=" + url.QueryEscape(id)
		}
		start := time.Now()
		err := b.get(ctx, u)
		elapsed := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				failed.Add(1)
				if firstErr == nil {
					firstErr = err
				}
			}
			return
		}
		lat = append(lat, int64(elapsed))
		if ids {
			byID[id] = elapsed
		}
	}
	srv0, err := b.server.Stats(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	machine := startMachine()
	runCtx, cancel := context.WithTimeout(ctx, s.duration)
	defer cancel()
	cpu0, t0 := target.ProcessCPU(), time.Now()
	var workers sync.WaitGroup
	for range s.monitors {
		workers.Go(func() {
			t := time.NewTicker(s.every)
			defer t.Stop()
			for {
				if s.jitter > 0 && !sleep(runCtx, rand.N(s.jitter)) {
					return
				}
				var pair sync.WaitGroup
				pair.Go(func() { get(runCtx, b.blue) })
				pair.Go(func() { get(runCtx, b.green) })
				pair.Wait()
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	workers.Wait()
	wall, cpu := time.Since(t0), target.ProcessCPU()-cpu0
	machineCores := machine.cores()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	srv1, err := b.server.Stats(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if len(lat) == 0 {
		return nil, nil, fmt.Errorf("bare net/http: no request succeeded: %v", firstErr)
	}
	r := &engineResult{
		Monitors:     s.monitors,
		EveryMillis:  float64(s.every) / float64(time.Millisecond),
		JitterMillis: float64(s.jitter) / float64(time.Millisecond),
		Path:         s.path,
		Seconds:      wall.Seconds(),
		Offered:      s.offered(),
		Probes:       int64(len(lat)),
		Failed:       failed.Load(),
		MachineCores: machineCores,
	}
	r.PerSec = float64(r.Probes) / wall.Seconds()
	r.CPUMicros = float64(cpu) / 1e3 / float64(r.Probes)
	r.Cores = cpu.Seconds() / wall.Seconds()
	if n := srv1.Requests - srv0.Requests; n > 0 {
		d := time.Duration(srv1.CPUNanos - srv0.CPUNanos)
		r.ServerCPUMicros = float64(d) / 1e3 / float64(n)
		r.ServerCores = d.Seconds() / wall.Seconds()
	}
	r.Latency = distOf(lat)
	return r, byID, nil
}

// get is one request as smoke times it: from before Do to the end of the body.
func (b *bare) get(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// overhead runs the workers as s says, on /health with the target's delay and an id per
// request, and matches each request with the target's timing of it.
func (b *bare) overhead(ctx context.Context, s engineSpec, delay time.Duration) (*overheadResult, error) {
	s.path = delayed("/health", delay)
	if err := b.server.Record(ctx, true); err != nil {
		return nil, err
	}
	_, byID, err := b.run(ctx, s, true)
	if err != nil {
		return nil, err
	}
	if err := b.server.Record(ctx, false); err != nil {
		return nil, err
	}
	st, err := b.server.Stats(ctx, true)
	if err != nil {
		return nil, err
	}
	o := &overheadResult{Prober: "net/http (bare)", Rate: s.offered(), Delay: delay.String(), Measure: "Do to end of body", measured: byID}
	o.match(st.Samples)
	return o, nil
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sep is what joins one more query parameter to u.
func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
