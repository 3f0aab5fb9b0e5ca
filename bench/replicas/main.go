// Command replicasbench measures greenlight serve as several replicas on one PostgreSQL: it
// starts a PostgreSQL server of its own (as pgtest does: initdb in a temporary folder, as the
// user nobody when run as root), builds the greenlight binary and runs R replicas of
// `greenlight serve` on one database, starts N analyses on each through its API — one monitor
// probing blue and green once a second each, an error-rate and a p95 check — against target
// servers in a child process on loopback, and reports, over a window: each replica's resident
// memory and CPU, the API's latency (p50/p99) for GET one analysis, a page of the list and the
// verdict, spread over the replicas, and the PostgreSQL connections in use; then it kills one
// replica with SIGKILL and reports how long the others take to own its analyses and resume
// them (each one's resumed event), and their memory afterwards.
//
//	go run ./bench/replicas -n 1000 -replicas 3 -warmup 30s -measure 60s
//
// See bench/replicas/README.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/bench/internal/proc"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
)

type figures struct {
	Replicas    int                `json:"replicas"`
	PerReplica  int                `json:"analysesPerReplica"`
	LeaseTTLS   float64            `json:"leaseTTLSeconds"`
	MeasureS    float64            `json:"measureSeconds"`
	StartsPerS  float64            `json:"startsPerSecond"`     // POST /api/v1/analyses, all replicas together
	RSSMiB      []float64          `json:"rssMiB"`              // each replica's peak resident set while measuring
	CPUPercent  []float64          `json:"cpuPercentOfOneCore"` // each replica's CPU while measuring
	API         map[string]latency `json:"api"`                 // requests spread over the replicas
	PGConns     int                `json:"postgresConnections"` // peak client connections to the database
	PGBackends  int                `json:"postgresBackends"`    // peak server processes of every kind
	TakeoverS   takeover           `json:"takeoverSeconds"`     // after the kill, until the analyses resumed
	AfterRSSMiB []float64          `json:"rssAfterTakeoverMiB"` // the survivors' resident set once they run them
	EventsPerS  float64            `json:"eventsPerSecond"`     // stored while measuring
	Skipped     int64              `json:"probeRunsSkippedTotal"`
	LeaseLosses int64              `json:"leaseLosses"` // analyses a replica stopped because its lease ran out unrenewed or was taken // probe runs skipped (host cap, rate limit, overlap) over the run
}

type latency struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MaxMs    float64 `json:"maxMs"`
}

// takeover is how long after the kill the dead replica's analyses had resumed elsewhere: the
// first, half of them, and all, from the times of their resumed events.
type takeover struct {
	Analyses int     `json:"analyses"`
	FirstS   float64 `json:"first"`
	MedianS  float64 `json:"median"`
	LastS    float64 `json:"last"`
}

// perTarget is how many analyses share one blue and one green target server: their probes stay
// under the daemon's cap per host (100 requests a second).
const perTarget = 50

// failed makes the command exit 1 once main has cleaned up.
var failed bool

func main() {
	if len(os.Args) > 1 && os.Args[1] == proc.TargetsFlag {
		proc.ServeTargets()
		return
	}
	bench()
	if failed {
		os.Exit(1)
	}
}

func bench() {
	n := flag.Int("n", 1000, "analyses to run at once on each replica")
	replicas := flag.Int("replicas", 3, "replicas of greenlight serve")
	warmup := flag.Duration("warmup", 30*time.Second, "time to let every analysis start before measuring")
	measure := flag.Duration("measure", 60*time.Second, "measurement window")
	rate := flag.Int("rate", 20, "API requests per second of each kind while measuring, spread over the replicas")
	ttl := flag.Duration("lease-ttl", 15*time.Second, "the replicas' --lease-ttl")
	every := flag.Duration("every", time.Second, "how often each analysis's monitor probes blue and green")
	bin := flag.String("bin", "", "a greenlight binary to run (default: build ./cmd/greenlight)")
	asJSON := flag.Bool("json", false, "print the figures as JSON")
	flag.Parse()
	if *n < 1 || *replicas < 2 {
		log.Fatal("want -n ≥ 1 and -replicas ≥ 2")
	}

	dir, err := os.MkdirTemp("", "replicasbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		*bin = filepath.Join(dir, "greenlight")
		out, err := exec.Command("go", "build", "-o", *bin, "github.com/greenlight/greenlight/cmd/greenlight").CombinedOutput()
		if err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	pg, err := pgtest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := pg.Remove(); err != nil {
			log.Print(err)
		}
	}()
	pairs := (*n**replicas + perTarget - 1) / perTarget
	blues, greens, stop := proc.StartTargetPairs(pairs)
	defer stop()

	f, err := run(config{n: *n, replicas: *replicas, warmup: *warmup, measure: *measure, rate: *rate, ttl: *ttl, every: *every,
		bin: *bin, dir: dir, pg: pg, blues: blues, greens: greens})
	if err != nil {
		log.Print(err)
		failed = true // after the deferred clean-up
		return
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(f)
		return
	}
	report(os.Stdout, f)
}

func report(w io.Writer, f figures) {
	fmt.Fprintf(w, "replicasbench: %d replicas × %d analyses on one PostgreSQL, 1 probe/s per environment each, measured over %.0fs\n\n",
		f.Replicas, f.PerReplica, f.MeasureS)
	for i := range f.RSSMiB {
		fmt.Fprintf(w, "  %-40s %10.1f MiB   (%.0f%% of one core)\n", fmt.Sprintf("replica %d resident memory (peak)", i), f.RSSMiB[i], f.CPUPercent[i])
	}
	for _, k := range []string{"get", "list", "verdict"} {
		l := f.API[k]
		fmt.Fprintf(w, "  %-40s %10.2f ms    (p50 %.2f ms, max %.2f ms, %d requests, %d errors)\n", "API p99: "+k, l.P99Ms, l.P50Ms, l.MaxMs, l.Requests, l.Errors)
	}
	fmt.Fprintf(w, "  %-40s %10d       (%d server processes in all)\n", "PostgreSQL connections (peak)", f.PGConns, f.PGBackends)
	fmt.Fprintf(w, "  %-40s %10.0f /s\n", "events stored", f.EventsPerS)
	fmt.Fprintf(w, "  %-40s %10.0f /s\n", "starts through the API", f.StartsPerS)
	fmt.Fprintf(w, "  %-40s %10d\n", "probe runs skipped (all replicas)", f.Skipped)
	fmt.Fprintf(w, "  %-40s %10d       (before the kill)\n", "analyses stopped on a lost lease", f.LeaseLosses)
	t := f.TakeoverS
	fmt.Fprintf(w, "  %-40s %10.2f s     (%d analyses: first %.2f s, half %.2f s; lease TTL %.0fs)\n", "takeover after kill -9, all resumed", t.LastS, t.Analyses, t.FirstS, t.MedianS, f.LeaseTTLS)
	for i, r := range f.AfterRSSMiB {
		fmt.Fprintf(w, "  %-40s %10.1f MiB\n", fmt.Sprintf("replica %d resident memory after", i+1), r)
	}
}

type config struct {
	n, replicas, rate    int
	warmup, measure, ttl time.Duration
	every                time.Duration
	bin, dir             string
	pg                   *pgtest.Server
	blues, greens        []string
}

const spec = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: bench}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: EVERY, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 1%}}
  - {name: p95, latency: {from: m, percentile: 95, maxRatio: 1.2}}
policy: {minDuration: 24h, maxDuration: 48h}
`

// replica is one greenlight serve process.
type replica struct {
	cmd  *exec.Cmd
	url  string
	lost atomic.Int64 // analyses it stopped because it lost their lease
}

func startReplica(c config, dsn, specs, tokens string) (*replica, error) {
	cmd := exec.Command(c.bin, "serve", "--listen", "127.0.0.1:0", "--config", specs, "--tokens-file", tokens,
		"--lease-ttl", c.ttl.String(), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GREENLIGHT_STORE="+dsn)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &replica{cmd: cmd}
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if u, ok := strings.CutPrefix(sc.Text(), "greenlight: serving on "); ok {
			r.url = u
			break
		}
	}
	if r.url == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("greenlight serve did not start:\n%s", strings.Join(lines, "\n"))
	}
	go func() {
		// Warnings and errors only (--log-level warn): shown, for they mean something.
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "lost the lease of an analysis") || strings.Contains(line, "could not renew the lease of an analysis") {
				r.lost.Add(1)
				continue
			}
			fmt.Fprintf(os.Stderr, "replica %d: %s\n", cmd.Process.Pid, line)
		}
	}()
	return r, nil
}

func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

const token = "replicasbench-admin-token"

func run(c config) (figures, error) {
	dsn, err := c.pg.Database(context.Background(), "bench")
	if err != nil {
		return figures{}, err
	}
	specs := filepath.Join(c.dir, "specs")
	tokens := filepath.Join(c.dir, "tokens")
	if err := os.MkdirAll(specs, 0o700); err != nil {
		return figures{}, err
	}
	if err := os.WriteFile(filepath.Join(specs, "bench.yaml"), []byte(strings.Replace(spec, "EVERY", c.every.String(), 1)), 0o600); err != nil {
		return figures{}, err
	}
	if err := os.WriteFile(tokens, []byte("bench admin "+token+"\n"), 0o600); err != nil {
		return figures{}, err
	}
	var rs []*replica
	defer func() {
		for _, r := range rs {
			r.kill()
		}
	}()
	for range c.replicas {
		r, err := startReplica(c, dsn, specs, tokens)
		if err != nil {
			return figures{}, err
		}
		rs = append(rs, r)
	}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return figures{}, err
	}
	defer db.Close(ctx)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: time.Minute}
	f := figures{Replicas: c.replicas, PerReplica: c.n, LeaseTTLS: c.ttl.Seconds(), API: map[string]latency{}}

	// Start N analyses on each replica, 8 at a time per replica, each pair of targets shared by
	// perTarget analyses.
	ids := make([][]string, len(rs))
	var next atomic.Int64
	t0 := time.Now()
	var wg sync.WaitGroup
	var startErr atomic.Value
	for ri, r := range rs {
		var mu sync.Mutex
		for range 8 {
			wg.Go(func() {
				for {
					mu.Lock()
					if len(ids[ri]) >= c.n {
						mu.Unlock()
						return
					}
					ids[ri] = append(ids[ri], "") // a place, filled below
					slot := len(ids[ri]) - 1
					mu.Unlock()
					k := int(next.Add(1)-1) / perTarget
					body := `{"spec": "bench", "environments": {"blue": "` + c.blues[k%len(c.blues)] + `", "green": "` + c.greens[k%len(c.greens)] + `"}}`
					id, err := start(client, r.url, body)
					if err != nil {
						startErr.Store(err)
						return
					}
					mu.Lock()
					ids[ri][slot] = id
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if err, ok := startErr.Load().(error); ok {
		return f, err
	}
	f.StartsPerS = float64(c.n*c.replicas) / time.Since(t0).Seconds()
	time.Sleep(c.warmup)

	// Measure: API latency spread over the replicas, memory, CPU, connections.
	events0 := maxEvent(ctx, db)
	cpu0 := make([]time.Duration, len(rs))
	for i, r := range rs {
		cpu0[i] = proc.ProcessCPUTime(r.cmd.Process.Pid)
	}
	all := slices.Concat(ids...)
	start := time.Now()
	var (
		mu   sync.Mutex
		rt   = map[string][]time.Duration{}
		errs = map[string]int{}
	)
	for kind, p := range map[string]func(i int) string{
		"get":     func(i int) string { return "/api/v1/analyses/" + all[i*7919%len(all)] },
		"list":    func(int) string { return "/api/v1/analyses?limit=50" },
		"verdict": func(i int) string { return "/api/v1/analyses/" + all[i*7919%len(all)] + "/verdict" },
	} {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(c.rate))
			defer tick.Stop()
			for i := 0; time.Since(start) < c.measure; i++ {
				<-tick.C
				r := rs[i%len(rs)]
				t := time.Now()
				status, err := get(client, r.url+p(i))
				d := time.Since(t)
				mu.Lock()
				if err != nil || status != http.StatusOK {
					errs[kind]++
				} else {
					rt[kind] = append(rt[kind], d)
				}
				mu.Unlock()
			}
		})
	}
	f.RSSMiB = make([]float64, len(rs))
	for time.Since(start) < c.measure {
		time.Sleep(time.Second)
		for i, r := range rs {
			f.RSSMiB[i] = max(f.RSSMiB[i], proc.ProcessRSSMiB(r.cmd.Process.Pid))
		}
		conns, backends := connections(ctx, db)
		f.PGConns, f.PGBackends = max(f.PGConns, conns), max(f.PGBackends, backends)
	}
	wg.Wait()
	elapsed := time.Since(start)
	f.MeasureS = elapsed.Seconds()
	for i, r := range rs {
		f.CPUPercent = append(f.CPUPercent, 100*float64(proc.ProcessCPUTime(r.cmd.Process.Pid)-cpu0[i])/float64(elapsed))
	}
	f.EventsPerS = float64(maxEvent(ctx, db)-events0) / elapsed.Seconds()
	for kind := range errs {
		if _, ok := rt[kind]; !ok {
			rt[kind] = nil
		}
	}
	for kind, ds := range rt {
		l := latency{Requests: len(ds) + errs[kind], Errors: errs[kind]}
		if len(ds) > 0 {
			slices.Sort(ds)
			q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / 1e6 }
			l.P50Ms, l.P99Ms, l.MaxMs = q(0.5), q(0.99), float64(ds[len(ds)-1])/1e6
		}
		f.API[kind] = l
	}
	for _, r := range rs {
		f.Skipped += skipped(client, r.url)
		f.LeaseLosses += r.lost.Load()
	}

	// Kill replica 0 and wait until every one of its analyses has resumed on another: the time
	// of each one's resumed event, after the kill.
	killed := time.Now()
	rs[0].kill()
	victims := ids[0]
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(DISTINCT analysis_id) FROM events WHERE kind = 'resumed' AND analysis_id = ANY($1)`, victims).Scan(&n); err != nil {
			return f, err
		}
		if n == len(victims) {
			break
		}
		if time.Since(killed) > 10*c.ttl+10*time.Minute {
			return f, fmt.Errorf("after %v, %d of the %d analyses of the killed replica have resumed", time.Since(killed).Round(time.Second), n, len(victims))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := db.Query(ctx, `SELECT MIN(time) FROM events WHERE kind = 'resumed' AND analysis_id = ANY($1) GROUP BY analysis_id`, victims)
	if err != nil {
		return f, err
	}
	ats, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return f, err
	}
	slices.Sort(ats)
	after := func(at int64) float64 { return time.Unix(0, at).Sub(killed).Seconds() }
	f.TakeoverS = takeover{Analyses: len(ats), FirstS: after(ats[0]), MedianS: after(ats[len(ats)/2]), LastS: after(ats[len(ats)-1])}
	// The survivors run every analysis now: their memory once they have for a while.
	time.Sleep(c.warmup)
	for _, r := range rs[1:] {
		f.AfterRSSMiB = append(f.AfterRSSMiB, proc.ProcessRSSMiB(r.cmd.Process.Pid))
	}
	rs = rs[1:] // killed already
	return f, nil
}

func start(client *http.Client, base, body string) (string, error) {
	req, err := http.NewRequest("POST", base+"/api/v1/analyses", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("start: %d %v", resp.StatusCode, err)
	}
	return a.ID, nil
}

func get(client *http.Client, url string) (int, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// connections is how many client connections the database has now (this command's own
// excluded), and how many server processes of every kind.
func connections(ctx context.Context, db *pgx.Conn) (clients, backends int) {
	_ = db.QueryRow(ctx, `SELECT COUNT(*) FILTER (WHERE datname = current_database() AND pid <> pg_backend_pid()), COUNT(*) FROM pg_stat_activity`).Scan(&clients, &backends)
	return clients, backends
}

// maxEvent is the newest event id: how many events the store has taken so far.
func maxEvent(ctx context.Context, db *pgx.Conn) int64 {
	var n *int64
	_ = db.QueryRow(ctx, `SELECT MAX(id) FROM events`).Scan(&n)
	if n == nil {
		return 0
	}
	return *n
}

// skipped is the probe runs a replica skipped, from its metrics.
func skipped(client *http.Client, base string) int64 {
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "greenlight_probe_skipped_total") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += v
			}
		}
	}
	return int64(total)
}
