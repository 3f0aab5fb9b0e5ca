// Package specs owns greenlight's YAML language: the document types (Suite now; Analysis and the
// daemon configuration later), strict decoding that reports every error as file:line:col,
// defaults, ${ENV} expansion, the Secret type, conditions compiled once at load, templates, and
// the JSON Schema editors use.
//
// It must not know how a step is executed or how results are judged: smoke runs what specs
// describes, and compare judges it. Anything here is pure data plus load-time compilation.
package specs
