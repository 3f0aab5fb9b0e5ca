// Package app is a small HTTP service that greenlight's tests, examples and
// demo deploy as "blue" and "green". It has just enough surface to make a
// smoke test meaningful: a health check, a login that hands out bearer
// tokens, an authenticated profile, orders that are written and read back,
// and endpoints for timeouts (/slow) and redirects (/redirect).
//
// Its reason to exist is the knobs. Faults adds latency, jitter and a 500
// rate per route, and can be replaced at run time through PUT /admin/faults
// so a test can inject a regression in the middle of a comparison. Config
// models the hazards of a blue/green switch: two Apps can share one Store
// (a shared database), a newer version can write orders in a different
// shape (OrderFormat 2), and an older version can refuse to read them
// (StrictRead), which is what makes a rollback unsafe.
//
// The package owns only this toy service. It must not know anything about
// greenlight itself: probes, specs and verdicts drive it from the outside
// over HTTP, exactly as they would drive a real deployment.
package app
