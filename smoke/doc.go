// Package smoke runs one pass of a suite against one environment: it renders each step's
// templates, executes the step through its kind's executor (one file per kind, listed once in
// executors), evaluates the step's conditions, keeps captures for later steps, retries transient
// failures and labels every request as synthetic traffic with a W3C traceparent.
//
// It returns structured results with reasons that show resolved values; it never decides a
// verdict and never prints. Secrets are redacted from everything it returns.
package smoke
