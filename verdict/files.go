package verdict

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
)

// ReportFormats render a smoke report, by the name --report uses.
var ReportFormats = map[string]func(io.Writer, *Report) error{
	"junit":    WriteJUnit,
	"json":     WriteJSON,
	"markdown": WriteMarkdown,
	"github":   WriteGitHub,
}

// VerdictFormats render an analysis's verdict, by the name --report uses.
var VerdictFormats = map[string]func(io.Writer, *Verdict) error{
	"junit":    WriteVerdictJUnit,
	"json":     WriteVerdictJSON,
	"markdown": WriteVerdictMarkdown,
	"github":   WriteVerdictGitHub,
}

// FormatNames lists the format names, sorted.
func FormatNames() []string {
	out := make([]string, 0, len(VerdictFormats))
	for k := range VerdictFormats {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteReportFiles writes rep in each format to its file (format → file), and its Markdown
// summary appended to summary when that is set ($GITHUB_STEP_SUMMARY). Every byte passes
// redact (nil: none), as a last line of defence behind Report.Redact.
func WriteReportFiles(rep *Report, files map[string]string, summary string, redact func(string) string) error {
	for _, format := range sortedKeys(files) {
		render, ok := ReportFormats[format]
		if !ok {
			return fmt.Errorf("unknown report format %q", format)
		}
		if err := WriteFile(files[format], func(w io.Writer) error { return render(w, rep) }, redact, false); err != nil {
			return err
		}
	}
	if summary != "" {
		return WriteFile(summary, func(w io.Writer) error { return WriteMarkdown(w, rep) }, redact, true)
	}
	return nil
}

// WriteVerdictFiles is WriteReportFiles for a verdict.
func WriteVerdictFiles(v *Verdict, files map[string]string, summary string, redact func(string) string) error {
	for _, format := range sortedKeys(files) {
		render, ok := VerdictFormats[format]
		if !ok {
			return fmt.Errorf("unknown report format %q", format)
		}
		if err := WriteFile(files[format], func(w io.Writer) error { return render(w, v) }, redact, false); err != nil {
			return err
		}
	}
	if summary != "" {
		return WriteFile(summary, func(w io.Writer) error { return WriteVerdictMarkdown(w, v) }, redact, true)
	}
	return nil
}

// WriteFile renders a document whole, redacts it and writes it to file (truncating it, or
// appending with appendTo): a render error leaves the file untouched.
func WriteFile(file string, render func(io.Writer) error, redact func(string) string, appendTo bool) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("render report %s: %w", file, err)
	}
	text := buf.String()
	if redact != nil {
		text = redact(text)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(file, flags, 0o644)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", file, err)
	}
	return f.Close()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
