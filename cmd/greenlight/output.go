package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict"
)

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
func writeReports(rep *verdict.Report, files map[string]string, redact *secret.Redactor) error {
	return verdict.WriteReportFiles(rep, files, summaryFile(), redact.Redact)
}

// writeVerdictReports is writeReports for an analysis's verdict.
func writeVerdictReports(v *verdict.Verdict, files map[string]string, redact *secret.Redactor) error {
	return verdict.WriteVerdictFiles(v, files, summaryFile(), redact.Redact)
}

// summaryFile is where GitHub Actions collects a job's Markdown summary, when it runs us.
func summaryFile() string { return os.Getenv("GITHUB_STEP_SUMMARY") }

// newRedactingWriter redacts what the command prints, line by line.
func newRedactingWriter(w io.Writer, rd *secret.Redactor) *secret.Writer {
	return secret.NewWriter(w, rd)
}
