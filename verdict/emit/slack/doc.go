// Package slack posts events to a Slack incoming webhook as Block Kit messages: a header
// with the decision, the reason, a table of checks, the smoke gate's failures, and buttons to
// the dashboard and the API.
//
// Every text that comes from users — analysis, spec, environment and check names, reasons,
// errors, labels — is escaped (&, <, >), so that a check named "<!channel>" pings nobody, and
// every text is cut to Slack's limits (header 150 characters, section text 3000, 10 fields per
// section, 50 blocks), so that Slack never refuses a message for its size.
//
// It formats the event's payload (emit.Payload) and makes one attempt per Emit; retries are
// the emit.Dispatcher's.
package slack
