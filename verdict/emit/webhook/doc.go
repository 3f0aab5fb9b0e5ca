// Package webhook delivers events as Standard Webhooks: an HTTP POST of the event's JSON
// payload with the headers webhook-id (the event's id, the same on every attempt),
// webhook-timestamp (this attempt's time, unix seconds) and webhook-signature ("v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body", one per configured secret during a rotation).
//
// It makes one attempt per Emit and classifies the answer; retries, backoff and disabling a
// gone endpoint are the emit.Dispatcher's. It must not know where its configuration comes
// from, nor the payload's content: it signs and sends the bytes it is given.
package webhook
