package secret

import (
	"bytes"
	"io"
	"sync"
)

// Writer redacts secrets line by line before they reach the writer underneath: the last lock on
// the door for anything printed (results are redacted where they are made). Text after the last
// newline waits for the next Write or for Flush, so that a secret split across two writes is
// still whole when it is redacted.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	redact *Redactor
	buf    []byte
}

// NewWriter returns a Writer over w; a nil redactor redacts nothing.
func NewWriter(w io.Writer, rd *Redactor) *Writer {
	return &Writer{w: w, redact: rd}
}

func (r *Writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(r.w, r.redact.Redact(string(r.buf[:i+1]))); err != nil {
			return 0, err
		}
		r.buf = r.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes what is left after the last newline.
func (r *Writer) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		_, _ = io.WriteString(r.w, r.redact.Redact(string(r.buf)))
		r.buf = nil
	}
}
