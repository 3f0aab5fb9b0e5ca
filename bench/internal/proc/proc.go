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
	f, err := os.Open("/proc/self/status")
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
	cmd := exec.Command(os.Args[0], TargetsFlag)
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
	b, g, _ := strings.Cut(strings.TrimSpace(line), " ")
	return "http://" + b, "http://" + g, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

// ServeTargets is the child: two listeners answering /health at once, forever.
func ServeTargets() {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	var addrs []string
	for range 2 {
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
