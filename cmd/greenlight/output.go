package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

var reportWriters = map[string]func(io.Writer, *verdict.Report) error{
	"junit":    verdict.WriteJUnit,
	"json":     verdict.WriteJSON,
	"markdown": verdict.WriteMarkdown,
}

// useColor follows the no-color.org convention and only colours terminals.
func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeReports writes each requested report file, and the Markdown summary to
// $GITHUB_STEP_SUMMARY when GitHub Actions sets it. Every byte passes the redactor.
func writeReports(rep *verdict.Report, files map[string]string, redact *specs.Redactor) error {
	for format, file := range files {
		if err := writeReportFile(file, reportWriters[format], rep, redact, false); err != nil {
			return err
		}
	}
	if summary := summaryFile(); summary != "" {
		if err := writeReportFile(summary, verdict.WriteMarkdown, rep, redact, true); err != nil {
			return err
		}
	}
	return nil
}

// summaryFile is where GitHub Actions collects a job's Markdown summary, when it runs us.
func summaryFile() string { return os.Getenv("GITHUB_STEP_SUMMARY") }

func writeReportFile(file string, write func(io.Writer, *verdict.Report) error, rep *verdict.Report, redact *specs.Redactor, appendTo bool) error {
	var buf bytes.Buffer
	if err := write(&buf, rep); err != nil {
		return fmt.Errorf("render report %s: %w", file, err)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(file, flags, 0o644)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := io.WriteString(f, redact.Redact(buf.String())); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", file, err)
	}
	return f.Close()
}

// redactingWriter redacts secrets line by line before they reach w. Results are redacted where
// they are made; this is the second lock on the door for anything printed.
type redactingWriter struct {
	mu     sync.Mutex
	w      io.Writer
	redact *specs.Redactor
	buf    []byte
}

func newRedactingWriter(w io.Writer, rd *specs.Redactor) *redactingWriter {
	return &redactingWriter{w: w, redact: rd}
}

func (r *redactingWriter) Write(p []byte) (int, error) {
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
func (r *redactingWriter) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		_, _ = io.WriteString(r.w, r.redact.Redact(string(r.buf)))
		r.buf = nil
	}
}
