package synthetic

import (
	"slices"
	"sync"
)

// Window keeps the most recent probes of one environment, at most a fixed number, for
// dashboards. It is safe for concurrent use.
type Window struct {
	mu    sync.Mutex
	buf   []Probe // a ring once full
	next  int     // where the next probe goes once full
	count int
}

// NewWindow returns a window holding the last size probes (at least one).
func NewWindow(size int) *Window {
	return &Window{buf: make([]Probe, max(size, 1))}
}

// Add records a probe, dropping the oldest when the window is full.
func (w *Window) Add(p Probe) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf[w.next] = p
	w.next = (w.next + 1) % len(w.buf)
	w.count = min(w.count+1, len(w.buf))
}

// Snapshot returns a copy of the probes held, oldest first; changing it changes nothing here.
func (w *Window) Snapshot() []Probe {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Probe, 0, w.count)
	start := (w.next - w.count + len(w.buf)) % len(w.buf)
	for i := range w.count {
		p := w.buf[(start+i)%len(w.buf)]
		p.Steps = slices.Clone(p.Steps)
		out = append(out, p)
	}
	return out
}

// Len returns how many probes the window holds.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}
