// Command servebench measures greenlight serve at scale: it runs the daemon's server on a
// SQLite store in a temporary folder, starts N analyses through its API — one monitor probing
// blue and green once a second each, an error-rate and a p95 check — against target servers
// in a child process on loopback, and reports, over a window: the process's resident memory,
// the API's latency (p50/p99) for GET one analysis, a page of the list and the verdict while
// the analyses run, the bytes the process wrote (the store's write volume) per analysis-minute,
// and, after a graceful stop, how long a new server takes to start the N running analyses
// again.
//
//	go run ./bench/serve -n 500 -warmup 15s -measure 60s
//
// Goals (issue 11): 500 analyses in ≤ 500 MiB RSS, API p99 ≤ 50 ms. See bench/serve/README.md.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenlight/greenlight/bench/internal/proc"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/synthetic"
)

type figures struct {
	Analyses        int                `json:"analyses"`
	MeasureS        float64            `json:"measureSeconds"`
	RSSMiB          float64            `json:"rssMiB"` // peak resident set seen while measuring
	API             map[string]latency `json:"api"`
	WrittenMiB      float64            `json:"writtenMiB"`                  // bytes the process wrote while measuring
	KiBPerMinute    float64            `json:"writtenKiBPerAnalysisMinute"` // of those, per analysis-minute
	DatabaseMiB     float64            `json:"databaseMiB"`                 // the database and its WAL at the end
	ResumeS         float64            `json:"restartToResumedSeconds"`     // a new server starting the N analyses again
	StartedPerSec   float64            `json:"startsPerSecond"`             // POST /api/v1/analyses while starting them
	EventsPerSecond float64            `json:"eventsPerSecond"`             // stored while measuring
}

type latency struct {
	Requests int     `json:"requests"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MaxMs    float64 `json:"maxMs"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == proc.TargetsFlag {
		proc.ServeTargets()
		return
	}
	n := flag.Int("n", 500, "analyses to run at once")
	warmup := flag.Duration("warmup", 15*time.Second, "time to let every analysis start before measuring")
	measure := flag.Duration("measure", 60*time.Second, "measurement window")
	rate := flag.Int("rate", 20, "API requests per second of each kind while measuring")
	asJSON := flag.Bool("json", false, "print the figures as JSON")
	flag.Parse()

	blue, green, stop := proc.StartTargets()
	defer stop()
	dir, err := os.MkdirTemp("", "servebench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := run(*n, blue, green, dir, *warmup, *measure, *rate)
	if err != nil {
		log.Fatal(err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(f)
		return
	}
	fmt.Printf("servebench: %d analyses on one daemon (SQLite store), 1 probe/s per environment each, measured over %.0fs\n\n", f.Analyses, f.MeasureS)
	fmt.Printf("  %-34s %10.1f MiB   (goal ≤ 500 MiB)\n", "resident memory (peak)", f.RSSMiB)
	for _, k := range []string{"get", "list", "verdict"} {
		l := f.API[k]
		fmt.Printf("  %-34s %10.2f ms    (p50 %.2f ms, max %.2f ms, %d requests; goal p99 ≤ 50 ms)\n", "API p99: "+k, l.P99Ms, l.P50Ms, l.MaxMs, l.Requests)
	}
	fmt.Printf("  %-34s %10.1f KiB   (%.1f MiB in all; %.0f events/s stored)\n", "written per analysis-minute", f.KiBPerMinute, f.WrittenMiB, f.EventsPerSecond)
	fmt.Printf("  %-34s %10.1f MiB\n", "database and WAL at the end", f.DatabaseMiB)
	fmt.Printf("  %-34s %10.0f /s\n", "starts through the API", f.StartedPerSec)
	fmt.Printf("  %-34s %10.2f s\n", "restart to resumed", f.ResumeS)
}

const spec = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: bench}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 1s, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 1%}}
  - {name: p95, latency: {from: m, percentile: 95, maxRatio: 1.2}}
policy: {minDuration: 24h, maxDuration: 48h}
`

// daemon is the server on its store, served on loopback.
type daemon struct {
	srv  *server.Server
	db   *sqlite.Store
	http *http.Server
	url  string
}

func startDaemon(docs *specs.Documents, path string) (*daemon, error) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	runner := smoke.NewRunner("servebench", nil)
	srv, err := server.New(server.Options{Store: db, Specs: docs, Engine: analysis.EngineOptions{Runner: runner,
		// Every analysis probes the same two loopback targets: the per-host cap (100 requests a
		// second by default) would skip most runs, and the bench measures the full load.
		HostLimits: synthetic.NewHostLimits(0)}})
	if err != nil {
		return nil, err
	}
	if err := srv.Resume(context.Background()); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(srv.StopStreams)
	go func() { _ = hs.Serve(ln) }()
	return &daemon{srv: srv, db: db, http: hs, url: "http://" + ln.Addr().String()}, nil
}

func (d *daemon) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.http.Shutdown(ctx); err != nil {
		return err
	}
	if err := d.srv.Shutdown(ctx); err != nil {
		return err
	}
	return d.db.Close()
}

func run(n int, blue, green, dir string, warmup, measure time.Duration, rate int) (figures, error) {
	opts := specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}
	docs, err := specs.Parse("bench.yaml", []byte(spec), opts)
	if err != nil {
		return figures{}, err
	}
	if err := docs.Link(opts); err != nil {
		return figures{}, err
	}
	path := filepath.Join(dir, "greenlight.db")
	d, err := startDaemon(docs, path)
	if err != nil {
		return figures{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	body := `{"spec": "bench", "environments": {"blue": "` + blue + `", "green": "` + green + `"}}`
	var ids []string
	t0 := time.Now()
	for range n {
		resp, err := client.Post(d.url+"/api/v1/analyses", "application/json", strings.NewReader(body))
		if err != nil {
			return figures{}, err
		}
		var a struct{ ID string }
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			return figures{}, fmt.Errorf("start: %d %v", resp.StatusCode, err)
		}
		ids = append(ids, a.ID)
	}
	f := figures{Analyses: n, StartedPerSec: float64(n) / time.Since(t0).Seconds(), API: map[string]latency{}}
	time.Sleep(warmup)

	events0 := storedEvents(path)
	written0 := writtenBytes()
	start := time.Now()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		rt = map[string][]time.Duration{}
	)
	for kind, p := range map[string]func(i int) string{
		"get":     func(i int) string { return "/api/v1/analyses/" + ids[i%len(ids)] },
		"list":    func(int) string { return "/api/v1/analyses?limit=50" },
		"verdict": func(i int) string { return "/api/v1/analyses/" + ids[i%len(ids)] + "/verdict" },
	} {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for i := 0; time.Since(start) < measure; i++ {
				<-tick.C
				t := time.Now()
				resp, err := client.Get(d.url + p(i))
				if err != nil {
					log.Printf("%s: %v", kind, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				rt[kind] = append(rt[kind], time.Since(t))
				mu.Unlock()
			}
		})
	}
	var peak float64
	for time.Since(start) < measure {
		time.Sleep(time.Second)
		peak = max(peak, proc.RSSMiB())
	}
	wg.Wait()
	elapsed := time.Since(start)
	f.MeasureS, f.RSSMiB = elapsed.Seconds(), peak
	f.WrittenMiB = float64(writtenBytes()-written0) / (1 << 20)
	f.KiBPerMinute = f.WrittenMiB * 1024 / (float64(n) * elapsed.Minutes())
	f.EventsPerSecond = float64(storedEvents(path)-events0) / elapsed.Seconds()
	for kind, ds := range rt {
		slices.Sort(ds)
		q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / 1e6 }
		f.API[kind] = latency{Requests: len(ds), P50Ms: q(0.5), P99Ms: q(0.99), MaxMs: float64(ds[len(ds)-1]) / 1e6}
	}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			f.DatabaseMiB += float64(fi.Size()) / (1 << 20)
		}
	}

	// A graceful stop leaves the analyses running in the store; a new server starts them again.
	if err := d.stop(); err != nil {
		return f, err
	}
	t1 := time.Now()
	d, err = startDaemon(docs, path)
	if err != nil {
		return f, err
	}
	f.ResumeS = time.Since(t1).Seconds()
	return f, d.stop()
}

// storedEvents is the newest event id: how many events the store has taken so far (ids are
// never reused, so pruning does not lower it).
func storedEvents(path string) int64 {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n sql.NullInt64
	_ = db.QueryRow(`SELECT MAX(id) FROM events`).Scan(&n)
	return n.Int64
}

// writtenBytes is what the process has written to storage (/proc/self/io write_bytes).
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("write_bytes: ")); ok {
			v, _ := strconv.ParseInt(string(rest), 10, 64)
			return v
		}
	}
	return 0
}
