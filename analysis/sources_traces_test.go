package analysis

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/specs"
)

// tracesOnly is an analysis reading the trace receiver, with the given sources.traces mapping.
func tracesOnly(t *testing.T, traces string, env func(string) (string, bool)) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: traced}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  traces: ` + traces + `
checks:
  - name: orders-errors
    errorRate: {traces: {operation: GET /api/orders}, maxIncrease: 1%}
`
	docs, err := specs.Parse("t.yaml", []byte(src), specs.LoadOptions{LookupEnv: env})
	require.NoError(t, err)
	return docs.Analyses[0]
}

func unsetEnv(string) (string, bool) { return "", false }

// postSpans exports one blue span to the receiver at addr and returns the status.
func postSpans(t *testing.T, addr, authorization string) int {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.version", "v1")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID([16]byte{1})
	s.SetSpanID([8]byte{1})
	s.SetName("GET /api/orders")
	s.SetStartTimestamp(1)
	s.SetEndTimestamp(2)
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/v1/traces", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := (&http.Client{}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// Without listen, the receiver binds loopback: the spec's default, and the address bound (on a
// free port of the default host, so tests never fight over 4318).
func TestTracesDefaultListenIsLoopback(t *testing.T) {
	a := tracesOnly(t, `{values: {v1: blue, v2: green}}`, unsetEnv)
	require.Equal(t, specs.DefaultTracesListen, a.Sources.Traces.Listen)
	host, _, err := net.SplitHostPort(a.Sources.Traces.Listen)
	require.NoError(t, err)
	a.Sources.Traces.Listen = net.JoinHostPort(host, "0")

	s, err := newSources(a, sourceEnv{lookupEnv: unsetEnv})
	require.NoError(t, err)
	defer s.close()
	bound, err := net.ResolveTCPAddr("tcp", s.addr)
	require.NoError(t, err)
	assert.True(t, bound.IP.IsLoopback(), "bound %s", s.addr)
}

// A listen address set after loading (Options.TracesListen) that reaches other hosts is refused
// without a token, as the spec is at load.
func TestTracesListenOverrideNeedsToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a := tracesOnly(t, `{values: {v1: blue, v2: green}}`, unsetEnv)
	_, err := Run(ctx, Options{Analysis: a, TracesListen: ":0"})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, specs.DefaultTracesListen, a.Sources.Traces.Listen, "the caller's spec is never written to")
	assert.Regexp(t, `^invalid analysis input: sources.traces: listening on :0 \(\S+:\d+\) lets other hosts post spans that decide the verdict: `+
		`set sources.traces.token, or listen on loopback \(127.0.0.1:4318\)$`, err.Error())
}

// With a token the receiver may listen on every interface, and takes only exports that carry it.
func TestTracesTokenWired(t *testing.T) {
	a := tracesOnly(t, `{listen: ":0", token: {env: OTLP_TOKEN}, values: {v1: blue, v2: green}}`,
		func(k string) (string, bool) { return "wired-token", k == "OTLP_TOKEN" })
	s, err := newSources(a, sourceEnv{lookupEnv: unsetEnv})
	require.NoError(t, err)
	defer s.close()
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", port)

	assert.Equal(t, http.StatusUnauthorized, postSpans(t, addr, ""))
	assert.Equal(t, http.StatusUnauthorized, postSpans(t, addr, "Bearer wrong-token"))
	assert.Equal(t, http.StatusOK, postSpans(t, addr, "Bearer wired-token"))
	st := s.traces.Stats()
	assert.EqualValues(t, 2, st.Refused)
	assert.EqualValues(t, 1, st.Environments["blue"].Accepted)
}
