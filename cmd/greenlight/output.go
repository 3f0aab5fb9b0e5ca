package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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

// reportInvalid writes the reports a run was asked for when it stops on invalid input (exit 3):
// a verdict "error" with the problems, so that CI shows why the step failed instead of nothing.
// Any other error comes back as it is.
func reportInvalid(err error, files map[string]string, analysisName string) error {
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != verdict.ExitInvalid || len(files) == 0 && summaryFile() == "" {
		return err
	}
	v := verdict.InvalidInput(analysisName, ee.err.Error(), time.Now())
	if werr := writeVerdictReports(v, files, nil); werr != nil {
		return &exitError{code: verdict.ExitInvalid, err: fmt.Errorf("%w\n(the reports could not be written: %v)", ee.err, werr)}
	}
	return err
}

// reportInvalidSmoke is reportInvalid for a smoke run: its reports with the problems.
func reportInvalidSmoke(err error, files map[string]string) error {
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != verdict.ExitInvalid || len(files) == 0 && summaryFile() == "" {
		return err
	}
	v := verdict.InvalidInput("", ee.err.Error(), time.Now())
	rep := &verdict.Report{Tool: "greenlight", Version: appVersion(), StartedAt: v.StartedAt, Problems: v.Problems}
	if werr := writeReports(rep, files, nil); werr != nil {
		return &exitError{code: verdict.ExitInvalid, err: fmt.Errorf("%w\n(the reports could not be written: %v)", ee.err, werr)}
	}
	return err
}

// summaryFile is where GitHub Actions collects a job's Markdown summary, when it runs us.
func summaryFile() string { return os.Getenv("GITHUB_STEP_SUMMARY") }

// newRedactingWriter redacts what the command prints, line by line.
func newRedactingWriter(w io.Writer, rd *secret.Redactor) *secret.Writer {
	return secret.NewWriter(w, rd)
}
