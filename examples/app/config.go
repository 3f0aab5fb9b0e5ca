package app

import "log/slog"

// Defaults applied by New when the matching Config field is empty.
const (
	DefaultUsername        = "testuser"
	DefaultPassword        = "testpass"
	DefaultSyntheticHeader = "X-Greenlight-Synthetic"
)

// Config describes one deployment of the app (one colour).
type Config struct {
	// Color and Version are reported by GET /health so a caller can tell
	// which side of a blue/green pair answered.
	Color, Version string

	// Username and Password are the only credentials POST /auth/login
	// accepts. Empty means DefaultUsername / DefaultPassword.
	Username, Password string

	// SyntheticHeader names the request header that marks probe traffic.
	// A request whose header parses as true ("1", "true") creates orders
	// flagged synthetic. Empty means DefaultSyntheticHeader.
	SyntheticHeader string

	// Faults are the initial fault knobs; see App.SetFaults.
	Faults Faults

	// Store holds orders and signs session tokens. Nil gives the App a
	// private store; pass the same Store to a blue and a green App to
	// model a shared database (tokens issued by one are then accepted by
	// the other, and orders written by one are visible to the other).
	Store *Store

	// OrderFormat is the schema this version writes and renders orders
	// in: 1 (the default) has "quantity" as a number, 2 as a string.
	// Any value other than 2 means 1.
	OrderFormat int

	// StrictRead makes the app refuse (500) to read an order stored in a
	// newer format than its own OrderFormat, the way an old binary chokes
	// on data written after an upgrade. Without it the app reads any
	// format and renders the order in its own.
	StrictRead bool

	// Seed makes fault injection (jitter and error rolls) deterministic
	// for a given sequence of requests. 0 picks a random seed.
	Seed int64

	// OTLPEndpoint, when set, makes the app export its spans there over OTLP/HTTP (e.g.
	// http://127.0.0.1:4318/v1/traces): a server span per request and a span per store access,
	// with service.version = Version. Close flushes them.
	OTLPEndpoint string

	// Logger receives operational messages such as fault changes, with
	// color and version attributes added. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with every empty field filled in; New calls it
// once so the handlers never have to.
func (cfg Config) withDefaults() Config {
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.SyntheticHeader == "" {
		cfg.SyntheticHeader = DefaultSyntheticHeader
	}
	if cfg.OrderFormat != 2 {
		cfg.OrderFormat = 1
	}
	if cfg.Store == nil {
		cfg.Store = NewStore()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}
