package specs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// tracesSpec is an analysis whose sources.traces mapping starts at line 8, column 11.
func tracesSpec(traces string) string {
	return `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources:
  traces: ` + traces + `
checks: [{name: c, errorRate: {traces: {}, maxIncrease: 1%}}]
`
}

// The receiver listens on loopback unless told otherwise, and any other address needs a token:
// whoever can post spans can sway the verdict.
func TestTracesListen(t *testing.T) {
	const why = `, so anyone who can reach it could post spans that decide the verdict: add token: {env: OTLP_TOKEN} (or {file: …}) ` +
		`and give the apps OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>, or listen on loopback (127.0.0.1:4318)`
	tests := []struct {
		name, traces string
		listen       string // the address after defaults, when valid
		want         string // the error, when invalid
	}{
		{"default", `{values: {v1: blue}}`, "127.0.0.1:4318", ""},
		{"loopback", `{listen: "127.0.0.1:9999", values: {v1: blue}}`, "127.0.0.1:9999", ""},
		{"another loopback address", `{listen: "127.0.0.2:9999", values: {v1: blue}}`, "127.0.0.2:9999", ""},
		{"ipv6 loopback", `{listen: "[::1]:4318", values: {v1: blue}}`, "[::1]:4318", ""},
		{"every interface", `{listen: ":4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen ":4318" listens on every interface` + why},
		{"unspecified ipv4", `{listen: "0.0.0.0:4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen "0.0.0.0:4318" listens on every interface` + why},
		{"unspecified ipv6", `{listen: "[::]:4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen "[::]:4318" listens on every interface` + why},
		{"another host's address", `{listen: "10.0.0.7:4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen "10.0.0.7:4318" is not a loopback address` + why},
		{"host name", `{listen: "localhost:4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen "localhost:4318" names a host, which may resolve to any interface` + why},
		{"every interface with a token", `{listen: ":4318", token: {env: OTLP_TOKEN}, values: {v1: blue}}`, ":4318", ""},
		{"loopback with a token", `{token: {file: testdata/secret.txt}, values: {v1: blue}}`, "127.0.0.1:4318", ""},
		{"token not set", `{listen: ":4318", token: {env: UNSET}, values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.token: secret environment variable "UNSET" is not set`},
		{"not an address", `{listen: "4318", values: {v1: blue}}`, "",
			`a.yaml:8:11: sources.traces.listen "4318": want host:port or :port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse("a.yaml", []byte(tracesSpec(tt.traces)), LoadOptions{LookupEnv: envOf("OTLP_TOKEN", "tok-from-env")})
			if tt.want != "" {
				require.Error(t, err)
				assert.Equal(t, tt.want, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.listen, docs.Analyses[0].Sources.Traces.Listen)
		})
	}
}

// The token is a secret like the others: resolved at load, redacted in output, marshalled as
// its reference.
func TestTracesToken(t *testing.T) {
	docs, err := Parse("a.yaml", []byte(tracesSpec(`{listen: "0.0.0.0:4318", token: {env: OTLP_TOKEN}, values: {v1: blue}}`)),
		LoadOptions{LookupEnv: envOf("OTLP_TOKEN", "tok-from-env")})
	require.NoError(t, err)
	a := docs.Analyses[0]
	tok := a.Sources.Traces.TokenSecret()
	assert.Equal(t, "tok-from-env", tok.Reveal())
	assert.Equal(t, "<secret>", a.Redactor().Redact("tok-from-env"))
	out, err := yaml.Marshal(a)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "tok-from-env")
	assert.Contains(t, string(out), "env: OTLP_TOKEN")
}
