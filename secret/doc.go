// Package secret owns credentials: the Secret type, which prints and marshals as "<secret>" so
// that it cannot reach a log line, a report or an error by accident, and the Redactor, which
// removes known secret values from text in every encoding they travel in (percent-encoded,
// JSON-escaped, HTML/XML-escaped, base64, line by line).
//
// It is a leaf: it imports nothing of greenlight's, so that sources, emitters and reports can
// handle secrets without pulling in the spec language.
package secret
