package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// liveView shows an analysis as it runs. On a terminal it redraws a status block every tick —
// a progress bar and one line per check with samples, effect, interval and state. Elsewhere
// (CI logs) it writes one line per event: phase changes, smoke steps, and each check's state
// changes, plus a progress line every 10 seconds.
type liveView struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	text     *verdict.TextWriter
	lines    int // lines of the status block on screen
	states   map[string]compare.State
	lastNote time.Duration
	// diagnosed: environments whose unreachability has been reported in this phase.
	diagnosed map[string]bool
}

func newLiveView(w io.Writer, tty bool) *liveView {
	return &liveView{w: w, tty: tty, text: verdict.NewTextWriter(w, verdict.TextOptions{Color: tty}), states: map[string]compare.State{},
		diagnosed: map[string]bool{}}
}

func (l *liveView) event(e analysis.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Kind {
	case analysis.EventPhase:
		l.clearBlock()
		fmt.Fprintf(l.w, "%s %s\n", l.tag(e.Phase), e.Message)
		l.states = map[string]compare.State{}
		l.diagnosed = map[string]bool{}
		l.lastNote = 0
	case analysis.EventSmokeStep:
		l.clearBlock()
		l.text.Step(e.Suite, e.Env, stepReport(e.Env, *e.Step))
	case analysis.EventTick:
		if l.tty {
			l.redraw(e)
			return
		}
		l.logChanges(e)
	case analysis.EventVerdict:
		l.clearBlock()
	case analysis.EventWarning:
		l.clearBlock()
		fmt.Fprintf(l.w, "[warning] %s\n", e.Message)
	}
}

func (l *liveView) tag(p verdict.Phase) string {
	return fmt.Sprintf("[%s]", p)
}

// redraw replaces the status block on a terminal.
func (l *liveView) redraw(e analysis.Event) {
	l.clearBlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s / %s\n", l.tag(e.Phase), progressBar(e.Elapsed, e.Limit, 30), e.Elapsed.Round(time.Second), e.Limit)
	b.WriteString(l.text.CheckTable(e.Checks, e.Candidate, e.Baseline))
	b.WriteString(decidingLines(e.Checks))
	for _, d := range e.Diagnosis {
		fmt.Fprintf(&b, "  diagnosis: %s\n", d)
	}
	out := b.String()
	l.lines = strings.Count(out, "\n")
	io.WriteString(l.w, out)
}

// clearBlock erases the status block so that normal lines scroll above it.
func (l *liveView) clearBlock() {
	if l.tty && l.lines > 0 {
		fmt.Fprintf(l.w, "\x1b[%dA\x1b[J", l.lines)
		l.lines = 0
	}
}

func (l *liveView) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clearBlock()
}

// leave ends the live view with its last status block on screen (an interrupted run: what it
// had seen stays above the verdict).
func (l *liveView) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = 0
}

// logChanges writes a line when a check's state changes, and a progress line every 10s.
func (l *liveView) logChanges(e analysis.Event) {
	for _, c := range e.Checks {
		prev, seen := l.states[c.Name]
		if seen && prev == c.State {
			continue
		}
		l.states[c.Name] = c.State
		if !seen && c.State == compare.Inconclusive {
			continue
		}
		fmt.Fprintf(l.w, "%s %s %s: %s\n", l.tag(e.Phase), e.Elapsed.Round(time.Second), checkLabel(c), stateWord(c.State)+" — "+c.Reason)
	}
	for _, d := range e.Diagnosis {
		env, _, _ := strings.Cut(d, " ")
		if !l.diagnosed[env] {
			l.diagnosed[env] = true
			fmt.Fprintf(l.w, "%s %s %s\n", l.tag(e.Phase), e.Elapsed.Round(time.Second), d)
		}
	}
	if e.Elapsed-l.lastNote >= 10*time.Second {
		l.lastNote = e.Elapsed
		var parts []string
		for _, c := range e.Checks {
			parts = append(parts, fmt.Sprintf("%s %s (%d/%d)", checkLabel(c), stateWord(c.State), c.Candidate.N, c.Baseline.N))
		}
		fmt.Fprintf(l.w, "%s %s / %s: %s\n", l.tag(e.Phase), e.Elapsed.Round(time.Second), e.Limit, strings.Join(parts, ", "))
		for _, d := range e.Diagnosis {
			fmt.Fprintf(l.w, "%s %s %s\n", l.tag(e.Phase), e.Elapsed.Round(time.Second), d)
		}
	}
}

// stateWord is the state's word, the same in every output: "inconclusive" for a check not
// decided yet, as in JSON.
func stateWord(s compare.State) string { return string(s) }

func progressBar(elapsed, limit time.Duration, width int) string {
	if limit <= 0 {
		return ""
	}
	n := int(float64(width) * float64(elapsed) / float64(limit))
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("█", n) + strings.Repeat("·", width-n) + "]"
}
