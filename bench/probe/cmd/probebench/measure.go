package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture Go
// supports.
const clockTick = 10 * time.Millisecond

// dist summarises durations in microseconds.
type dist struct {
	N   int     `json:"n"`
	Min float64 `json:"min_us"`
	P50 float64 `json:"p50_us"`
	P90 float64 `json:"p90_us"`
	P99 float64 `json:"p99_us"`
	Max float64 `json:"max_us"`
}

// distOf sorts ns in place and summarises it.
func distOf(ns []int64) dist {
	if len(ns) == 0 {
		return dist{}
	}
	slices.Sort(ns)
	us := func(v int64) float64 { return float64(v) / 1e3 }
	return dist{
		N:   len(ns),
		Min: us(ns[0]),
		P50: us(rank(ns, 0.50)),
		P90: us(rank(ns, 0.90)),
		P99: us(rank(ns, 0.99)),
		Max: us(ns[len(ns)-1]),
	}
}

// rank is the nearest-rank percentile of sorted values.
func rank(sorted []int64, p float64) int64 {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// median of a few figures (the repeats of one measurement).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// procCPU returns the user+system CPU time of process pid, all its threads, from /proc.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime and stime (fields 14 and 15) of a /proc/PID/stat line. The command
// name in parentheses may hold spaces, so fields are counted from the last ')'.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineCPU returns the busy and total CPU time of the whole machine, all cores, from
// /proc/stat; busy excludes idle and iowait.
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read machine cpu: %w", err)
	}
	return parseMachineStat(string(b))
}

func parseMachineStat(s string) (busy, total time.Duration, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("parse /proc/stat: unexpected first line %q", line)
	}
	var all, idle int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		all += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(all-idle) * clockTick, time.Duration(all) * clockTick, nil
}

// machineMeter measures how many cores the whole machine kept busy over an interval.
type machineMeter struct {
	busy time.Duration
	at   time.Time
	ok   bool
}

func startMachine() machineMeter {
	b, _, err := machineCPU()
	return machineMeter{busy: b, at: time.Now(), ok: err == nil}
}

// cores returns the busy cores since the meter started, or -1 when unknown.
func (m machineMeter) cores() float64 {
	b, _, err := machineCPU()
	if !m.ok || err != nil {
		return -1
	}
	return (b - m.busy).Seconds() / time.Since(m.at).Seconds()
}

// loadAverage returns the first three fields of /proc/loadavg, or "" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
