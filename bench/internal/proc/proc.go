// Package proc holds what the benchmark commands measure of their own process and the loopback
// targets they probe from a child process.
package proc

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TargetsFlag is the argument a benchmark's own binary is started with to serve the targets:
// main calls ServeTargets when it sees it.
const TargetsFlag = "-serve"

// CPUTime is the process's user and system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RSSMiB is the process's resident memory (VmRSS), 0 when it cannot be read.
func RSSMiB() float64 {
	return rssFrom("/proc/self/status")
}

func rssFrom(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// StartTargets runs blue and green in a child process (this binary with TargetsFlag), so that
// their memory and CPU are not counted as the process measured; the child prints their
// addresses on its first line and dies with its parent.
func StartTargets() (blue, green string, stop func()) {
	blues, greens, stop := StartTargetPairs(1)
	return blues[0], greens[0], stop
}

// StartTargetPairs is StartTargets with pairs blue and green servers, each on a port of its
// own: a daemon caps the requests per second to one host (host and port), so a benchmark that
// probes more than that spreads its analyses over several.
func StartTargetPairs(pairs int) (blue, green []string, stop func()) {
	cmd := exec.Command(os.Args[0], TargetsFlag, strconv.Itoa(pairs))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		log.Fatal("target: ", err)
	}
	addrs := strings.Fields(line)
	if len(addrs) != 2*pairs {
		log.Fatalf("target: %d addresses, want %d", len(addrs), 2*pairs)
	}
	for i, a := range addrs {
		if i%2 == 0 {
			blue = append(blue, "http://"+a)
		} else {
			green = append(green, "http://"+a)
		}
	}
	return blue, green, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

// ServeTargets is the child: pairs of listeners (one pair, or as many as the argument after
// TargetsFlag says) answering /health at once, forever.
func ServeTargets() {
	pairs := 1
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n < 1 || n > 1000 {
			log.Fatalf("target pairs %q: want 1 to 1000", os.Args[2])
		}
		pairs = n
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	var addrs []string
	for range 2 * pairs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		go func() { _ = http.Serve(ln, h) }()
	}
	fmt.Println(strings.Join(addrs, " "))
	select {}
}

// ProcessRSSMiB is another process's resident memory (VmRSS), 0 when it cannot be read.
func ProcessRSSMiB(pid int) float64 {
	return rssFrom(fmt.Sprintf("/proc/%d/status", pid))
}

// ProcessCPUTime is another process's user and system CPU time so far, 0 when it cannot be
// read.
func ProcessCPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (in parentheses, which may hold spaces): utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * (time.Second / 100)
}
