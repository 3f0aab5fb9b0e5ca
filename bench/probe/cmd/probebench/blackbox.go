package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

// blackboxConfig is the smallest http_2xx module: a GET that passes on a 200.
const blackboxConfig = `modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
`

// blackbox is a running blackbox_exporter, driven through its /probe endpoint as Prometheus
// would scrape it.
type blackbox struct {
	version string
	base    string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	dir     string
	client  *http.Client
}

// startBlackbox writes the config to a temporary directory, starts bin on a free loopback port
// and waits until it answers.
func startBlackbox(ctx context.Context, bin string) (*blackbox, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("blackbox_exporter --version: %w", err)
	}
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	dir, err := os.MkdirTemp("", "probebench-blackbox-")
	if err != nil {
		return nil, fmt.Errorf("start blackbox_exporter: %w", err)
	}
	b := &blackbox{version: version, dir: dir}
	cfg := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(blackboxConfig), 0o644); err != nil {
		b.close()
		return nil, fmt.Errorf("start blackbox_exporter: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		b.close()
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "blackbox.log"))
	if err != nil {
		b.close()
		return nil, fmt.Errorf("start blackbox_exporter: %w", err)
	}
	defer logf.Close()
	b.cmd = exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=warn")
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	dieWithParent(b.cmd)
	if err := b.cmd.Start(); err != nil {
		b.close()
		return nil, fmt.Errorf("start blackbox_exporter: %w", err)
	}
	b.base = "http://" + addr
	b.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute},
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/-/healthy", nil)
		if resp, err := b.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(logf.Name())
			b.close()
			return nil, fmt.Errorf("blackbox_exporter did not answer on %s within 10s: %s", addr, bytes.TrimSpace(log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// close stops the exporter and removes its directory.
func (b *blackbox) close() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = b.cmd.Process.Kill()
			<-done
		}
	}
	if b.client != nil {
		b.client.CloseIdleConnections()
	}
	_ = os.RemoveAll(b.dir)
}

func (b *blackbox) pid() int { return b.cmd.Process.Pid }

// freePort returns a loopback address nothing listens on at the moment.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// bbProbe is what one /probe answer says.
type bbProbe struct {
	success  bool
	duration time.Duration            // probe_duration_seconds
	phases   map[string]time.Duration // probe_http_duration_seconds by phase
}

// httpTime is the HTTP phases a request on a fresh connection spends: connect, the request
// and the wait for the first byte (processing), and the body (transfer).
func (p *bbProbe) httpTime() time.Duration {
	return p.phases["connect"] + p.phases["tls"] + p.phases["processing"] + p.phases["transfer"]
}

// probe asks the exporter to probe targetURL with the http_2xx module.
func (b *blackbox) probe(ctx context.Context, targetURL string) (bbProbe, error) {
	u := b.base + "/probe?module=http_2xx&target=" + url.QueryEscape(targetURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return bbProbe{}, fmt.Errorf("blackbox probe: %w", err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return bbProbe{}, fmt.Errorf("blackbox probe: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return bbProbe{}, fmt.Errorf("blackbox probe: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return bbProbe{}, fmt.Errorf("blackbox probe: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return parseProbe(body)
}

// parseProbe reads the few series of a /probe answer that the benchmark uses.
func parseProbe(body []byte) (bbProbe, error) {
	p := bbProbe{phases: map[string]time.Duration{}}
	seen := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, value := line[:i], line[i+1:]
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return p, fmt.Errorf("parse probe answer %q: %w", line, err)
		}
		seconds := time.Duration(v * float64(time.Second))
		switch {
		case name == "probe_success":
			p.success = v == 1
		case name == "probe_duration_seconds":
			p.duration, seen = seconds, true
		case strings.HasPrefix(name, `probe_http_duration_seconds{phase="`):
			phase := strings.TrimSuffix(strings.TrimPrefix(name, `probe_http_duration_seconds{phase="`), `"}`)
			p.phases[phase] = seconds
		}
	}
	if !seen {
		return p, errors.New("parse probe answer: no probe_duration_seconds")
	}
	return p, nil
}

// loadResult is one load of /probe requests.
type loadResult struct {
	Concurrency     int     `json:"concurrency"`
	Seconds         float64 `json:"seconds"`
	Probes          int64   `json:"probes"`
	Failed          int64   `json:"failed"`
	PerSec          float64 `json:"probes_per_s"`
	CPUMicros       float64 `json:"cpu_us_per_probe"` // the exporter's CPU per probe
	Cores           float64 `json:"cores"`
	DriverCPUMicros float64 `json:"driver_cpu_us_per_probe"` // probebench asking for the probes
	ServerCPUMicros float64 `json:"server_cpu_us_per_request"`
	MachineCores    float64 `json:"machine_busy_cores"`
	Duration        dist    `json:"probe_duration"` // probe_duration_seconds
}

// load sends /probe requests from conc workers until n were sent or dur has passed. With
// collect, each target request carries an id and the exporter's figures are kept by id.
func (b *blackbox) load(ctx context.Context, srv *target.Client, base string, conc, n int, dur, delay time.Duration, collect bool) (*loadResult, map[string]bbProbe, error) {
	srv0, err := srv.Stats(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	bb0, err := procCPU(b.pid())
	if err != nil {
		return nil, nil, err
	}
	var (
		next, failed atomic.Int64
		mu           sync.Mutex
		durations    []int64
		byID         = map[string]bbProbe{}
		firstErr     error
		wg           sync.WaitGroup
	)
	suffix := ""
	if delay > 0 {
		suffix = "&delay=" + url.QueryEscape(delay.String())
	}
	machine := startMachine()
	self0, t0 := target.ProcessCPU(), time.Now()
	deadline := t0.Add(dur)
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				id := "bb-" + strconv.FormatInt(i, 10)
				p, err := b.probe(ctx, base+"/health?id="+id+suffix)
				mu.Lock()
				switch {
				case err != nil:
					failed.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				case !p.success:
					failed.Add(1)
				default:
					durations = append(durations, int64(p.duration))
					if collect {
						byID[id] = p
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall, self := time.Since(t0), target.ProcessCPU()-self0
	machineCores := machine.cores()
	bb1, err := procCPU(b.pid())
	if err != nil {
		return nil, nil, err
	}
	srv1, err := srv.Stats(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	r := &loadResult{
		Concurrency:  conc,
		Seconds:      wall.Seconds(),
		Probes:       int64(len(durations)),
		Failed:       failed.Load(),
		MachineCores: machineCores,
		Duration:     distOf(durations),
	}
	if r.Probes == 0 {
		return nil, nil, fmt.Errorf("blackbox_exporter completed no probe (%d failed): %v", r.Failed, firstErr)
	}
	all := float64(r.Probes + r.Failed)
	r.PerSec = float64(r.Probes) / wall.Seconds()
	r.CPUMicros = float64(bb1-bb0) / 1e3 / all
	r.Cores = (bb1 - bb0).Seconds() / wall.Seconds()
	r.DriverCPUMicros = float64(self) / 1e3 / all
	if k := srv1.Requests - srv0.Requests; k > 0 {
		r.ServerCPUMicros = float64(srv1.CPUNanos-srv0.CPUNanos) / 1e3 / float64(k)
	}
	return r, byID, nil
}

// overhead probes sequentially n times with the target recording, and compares both the
// exporter's probe_duration_seconds and its HTTP phases with the target's timing.
func (b *blackbox) overhead(ctx context.Context, srv *target.Client, base string, n int, delay time.Duration) (*loadResult, []*overheadResult, error) {
	if err := srv.Record(ctx, true); err != nil {
		return nil, nil, err
	}
	load, byID, err := b.load(ctx, srv, base, 1, n, time.Duration(n)*20*time.Millisecond+5*time.Second, delay, true)
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Record(ctx, false); err != nil {
		return nil, nil, err
	}
	st, err := srv.Stats(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	total := &overheadResult{Prober: "blackbox_exporter", Delay: delay.String(), Measure: "probe_duration_seconds", measured: map[string]time.Duration{}}
	phases := &overheadResult{Prober: "blackbox_exporter", Delay: delay.String(), Measure: "probe_http_duration_seconds connect+processing+transfer", measured: map[string]time.Duration{}}
	for id, p := range byID {
		total.measured[id] = p.duration
		phases.measured[id] = p.httpTime()
	}
	total.match(st.Samples)
	phases.match(st.Samples)
	return load, []*overheadResult{total, phases}, nil
}
