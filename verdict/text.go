package verdict

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// TextOptions configures a [TextWriter].
type TextOptions struct {
	// Color turns on ANSI colour. The caller decides (standard output is a terminal and
	// NO_COLOR is unset); without it no escape code is ever written.
	Color bool
	// Verbose adds, under each step, its passed conditions, request, trace ID and the
	// names of the values it captured.
	Verbose bool
	// Prefix starts each step line with "[suite/environment]", for runs of more than one
	// suite or environment whose lines would otherwise be ambiguous.
	Prefix bool
}

// TextWriter writes human-readable results to a terminal or log: one line per finished
// step as it happens, then a summary. It is safe for concurrent use: suites may run in
// parallel, and each call writes its lines in one piece so they never interleave.
//
// Write errors are ignored; terminal output is best effort and must not fail a run.
// Control characters in names and messages, which could come from a response body, are
// printed escaped so they cannot move the cursor or change colours.
type TextWriter struct {
	mu   sync.Mutex
	w    io.Writer
	opts TextOptions
}

// NewTextWriter returns a TextWriter writing to w.
func NewTextWriter(w io.Writer, opts TextOptions) *TextWriter {
	return &TextWriter{w: w, opts: opts}
}

// Step writes the line of one finished step, such as "✓ login  200  12ms", followed by
// the details of a failure, one per indented line: each failed condition's resolved
// values ("    status (500) == 200") or the step's error.
func (t *TextWriter) Step(suite, environment string, s StepReport) {
	var b strings.Builder
	t.step(&b, suite, environment, &s, t.opts.Prefix)
	t.write(b.String())
}

// Summary writes what the step lines cannot show: a side-by-side table for each suite
// that ran on several environments (a row per step, a column per environment), a recap
// of the failures, and the totals: "3 suites, 9 steps: 6 passed, 1 failed (1.23s)".
func (t *TextWriter) Summary(r *Report) {
	var b strings.Builder
	for _, g := range groupSuites(r.Suites) {
		if len(g.runs) > 1 {
			b.WriteByte('\n')
			t.table(&b, g)
		}
	}
	if !r.Passed() && len(r.Suites) > 0 {
		b.WriteString("\nFailures:\n")
		for i := range r.Suites {
			s := &r.Suites[i]
			for j := range s.Steps {
				if s.Steps[j].failing() {
					t.step(&b, s.Name, s.Environment, &s.Steps[j], true)
				}
			}
			if msg := s.suiteError(); msg != "" {
				fmt.Fprintf(&b, "[%s/%s] %s\n", cleanLine(s.Name), cleanLine(s.Environment),
					t.paint(ansiYellow, "suite error"))
				t.message(&b, ansiYellow, msg)
			}
		}
	}
	sym, color := "✓", ansiGreen
	switch {
	case r.Interrupted:
		sym, color = "■ INTERRUPTED before every step ran — nothing decided;", ansiYellow
	case !r.Passed():
		sym, color = "✗", ansiRed
	}
	fmt.Fprintf(&b, "\n%s %s\n", t.paint(color, sym), totals(r, func(kind Status, s string) string {
		if kind == "" {
			return t.paint(ansiDim, s)
		}
		return t.paint(statusColor(kind), s)
	}))
	t.write(b.String())
}

func (t *TextWriter) write(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, s)
}

// step writes one step line and its details.
func (t *TextWriter) step(b *strings.Builder, suite, env string, st *StepReport, prefix bool) {
	if prefix {
		fmt.Fprintf(b, "[%s/%s] ", cleanLine(suite), cleanLine(env))
	}
	color := statusColor(st.Status)
	fields := []string{t.paint(color, symbol(st.Status)) + " " + cleanLine(st.Name)}
	switch st.Status {
	case StatusPassed:
		if st.StatusCode != 0 {
			fields = append(fields, strconv.Itoa(st.StatusCode))
		}
	case StatusFailed:
		if st.StatusCode != 0 {
			fields = append(fields, t.paint(color, strconv.Itoa(st.StatusCode)))
		}
	default:
		fields = append(fields, t.paint(color, cleanLine(statusWord(st.Status))))
	}
	if st.Status != StatusSkipped {
		fields = append(fields, t.paint(ansiDim, humanDuration(st.Duration)))
	}
	if st.Attempts > 1 {
		fields = append(fields, t.paint(ansiDim, fmt.Sprintf("%d attempts", st.Attempts)))
	}
	if st.Environment != "" {
		fields = append(fields, "on "+cleanLine(st.Environment))
	}
	if st.Always {
		fields = append(fields, t.paint(ansiDim, "(always)"))
	}
	b.WriteString(strings.Join(fields, "  "))
	b.WriteByte('\n')

	for _, c := range st.Conditions {
		switch {
		case !c.Passed && t.opts.Verbose:
			t.message(b, ansiRed, "✗ "+firstNonEmpty(c.Detail, c.Expression))
		case !c.Passed:
			t.message(b, ansiRed, firstNonEmpty(c.Detail, c.Expression))
		case t.opts.Verbose:
			t.message(b, ansiDim, "✓ "+c.Expression)
		}
	}
	if st.Error != "" {
		t.message(b, color, st.Error)
	}
	if t.opts.Verbose {
		if st.Request != "" {
			t.message(b, ansiDim, "request: "+st.Request)
		}
		if st.TraceID != "" {
			t.message(b, ansiDim, "trace: "+st.TraceID)
		}
		if len(st.Captured) > 0 {
			t.message(b, ansiDim, "captured: "+strings.Join(st.Captured, ", "))
		}
	}
}

// message writes a possibly multi-line message indented under its step.
func (t *TextWriter) message(b *strings.Builder, color, msg string) {
	for line := range strings.Lines(msg) {
		line = strings.TrimRight(line, "\r\n")
		b.WriteString("    ")
		b.WriteString(t.paint(color, cleanLine(line)))
		b.WriteByte('\n')
	}
}

// table writes one suite's runs side by side.
func (t *TextWriter) table(b *strings.Builder, g suiteGroup) {
	header := []string{cleanLine(g.name)}
	for _, run := range g.runs {
		header = append(header, cleanLine(run.Environment))
	}
	rows := [][]string{header}
	for _, row := range stepRows(g.runs) {
		name := "  " + cleanLine(row.name)
		if row.always {
			name += " " + t.paint(ansiDim, "(always)")
		}
		cells := []string{name}
		for _, st := range row.cells {
			cells = append(cells, t.cell(st))
		}
		rows = append(rows, cells)
	}
	writeColumns(b, rows)
}

// cell is one environment's result in a side-by-side table: "✓ 12ms", "✗ 500 9ms".
func (t *TextWriter) cell(st *StepReport) string {
	if st == nil {
		return "—"
	}
	color := statusColor(st.Status)
	var s string
	switch st.Status {
	case StatusPassed:
		s = t.paint(color, "✓")
	case StatusFailed:
		s = t.paint(color, "✗")
		if st.StatusCode != 0 {
			s = t.paint(color, "✗ "+strconv.Itoa(st.StatusCode))
		}
	default:
		s = t.paint(color, symbol(st.Status)+" "+cleanLine(statusWord(st.Status)))
	}
	if st.Status != StatusSkipped {
		s += " " + t.paint(ansiDim, humanDuration(st.Duration))
	}
	if st.Environment != "" {
		s += " on " + cleanLine(st.Environment)
	}
	return s
}

// writeColumns aligns cells in columns two spaces apart. It measures the text without
// its colour codes: text/tabwriter would count the escape bytes as width and misalign
// every coloured row.
func writeColumns(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(cell))
		}
	}
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(cell)+2))
			}
		}
		b.WriteByte('\n')
	}
}

var ansiCode = regexp.MustCompile("\x1b\\[[0-9;]*m")

// visibleWidth counts runes outside colour codes. The symbols used here are one column
// wide, and cleanLine has already escaped any escape byte that came with the report.
func visibleWidth(s string) int {
	return utf8.RuneCountInString(ansiCode.ReplaceAllString(s, ""))
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

func (t *TextWriter) paint(code, s string) string {
	if !t.opts.Color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func statusColor(s Status) string {
	switch s {
	case StatusPassed:
		return ansiGreen
	case StatusFailed:
		return ansiRed
	default:
		return ansiYellow
	}
}

func symbol(s Status) string {
	switch s {
	case StatusPassed:
		return "✓"
	case StatusFailed:
		return "✗"
	case StatusSkipped:
		return "-"
	default:
		return "!"
	}
}

// cleanLine escapes control characters (escape sequences, carriage returns, tabs,
// newlines) so that s prints on one line and cannot drive the terminal.
func cleanLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
