package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

// rawResult is the raw-throughput reference: wrk (or hey) hammering the target with
// keep-alive connections, no checks, no per-request bookkeeping.
type rawResult struct {
	Tool            string  `json:"tool"`
	Version         string  `json:"version,omitempty"` // the Debian package's
	Args            string  `json:"args"`
	Seconds         float64 `json:"seconds"`
	PerSec          float64 `json:"requests_per_s"`
	P50Micros       float64 `json:"p50_us"`
	P99Micros       float64 `json:"p99_us"`
	CPUMicros       float64 `json:"cpu_us_per_request"` // the load generator's CPU per request
	ServerCPUMicros float64 `json:"server_cpu_us_per_request"`
	ServerRequests  int64   `json:"server_requests"`
	MachineCores    float64 `json:"machine_busy_cores"`
}

// runRaw runs bin (wrk, or hey when its name says so) against u for dur.
func runRaw(ctx context.Context, bin, u string, srv *target.Client, dur time.Duration, threads, conns int) (*rawResult, error) {
	tool := filepath.Base(bin)
	var args []string
	secs := strconv.Itoa(int(dur.Round(time.Second).Seconds()))
	if strings.Contains(tool, "hey") {
		tool = "hey"
		args = []string{"-z", secs + "s", "-c", strconv.Itoa(conns), "-cpus", strconv.Itoa(threads), u}
	} else {
		tool = "wrk"
		args = []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + secs + "s", "--latency", u}
	}
	srv0, err := srv.Stats(ctx, false)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin, args...)
	dieWithParent(cmd)
	machine := startMachine()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	machineCores := machine.cores()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, out)
	}
	srv1, err := srv.Stats(ctx, false)
	if err != nil {
		return nil, err
	}
	r, err := parseRaw(tool, string(out))
	if err != nil {
		return nil, err
	}
	r.Args = strings.Join(args[:len(args)-1], " ")
	r.Seconds = wall.Seconds()
	r.MachineCores = machineCores
	r.ServerRequests = srv1.Requests - srv0.Requests
	if r.ServerRequests > 0 {
		r.ServerCPUMicros = float64(srv1.CPUNanos-srv0.CPUNanos) / 1e3 / float64(r.ServerRequests)
		used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		r.CPUMicros = float64(used) / 1e3 / float64(r.ServerRequests)
	}
	return r, nil
}

var (
	reqPerSec  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	heyPercent = regexp.MustCompile(`(?m)^\s+(50|99)% in ([0-9.]+) secs`)
)

// parseRaw reads the requests per second and the p50/p99 latency from wrk's or hey's report.
func parseRaw(tool, out string) (*rawResult, error) {
	r := &rawResult{Tool: tool}
	m := reqPerSec.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("%s: no Requests/sec in its output: %s", tool, out)
	}
	r.PerSec, _ = strconv.ParseFloat(m[1], 64)
	set := func(pct string, us float64) {
		if pct == "50" {
			r.P50Micros = us
		} else {
			r.P99Micros = us
		}
	}
	if tool == "hey" {
		for _, m := range heyPercent.FindAllStringSubmatch(out, -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			set(m[1], v*1e6)
		}
		return r, nil
	}
	for _, m := range wrkPercent.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "ms":
			v *= 1e3
		case "s":
			v *= 1e6
		}
		set(m[1], v)
	}
	return r, nil
}
