package emit_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/emittest"
)

const schemaFile = "../../docs/webhook.schema.json"

func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "https://greenlight.dev/schema/webhook/v1.json"
	require.NoError(t, c.AddResource(id, doc))
	sch, err := c.Compile(id)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	return sch, raw
}

func validate(t *testing.T, sch *jsonschema.Schema, b []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(doc), "%s", b)
}

// TestPayloadsMatchSchema: the payload of every event type, built from realistic events,
// is valid against docs/webhook.schema.json.
func TestPayloadsMatchSchema(t *testing.T) {
	sch, _ := loadSchema(t)
	for _, ev := range emittest.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			b, err := emit.Encode(ev, emittest.Links, nil)
			require.NoError(t, err)
			validate(t, sch, b)

			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, string(ev.Type), got["type"])
			data := got["data"].(map[string]any)
			assert.Equal(t, "greenlight/v1", data["apiVersion"])
			assert.Equal(t, "an_01J9ZQ4T7W", data["analysis"].(map[string]any)["id"])
			assert.Equal(t, map[string]any{
				"api":       "https://greenlight.example.com/api/v1/analyses/an_01J9ZQ4T7W",
				"dashboard": "https://greenlight.example.com/analyses/an_01J9ZQ4T7W",
			}, data["links"])
			_, hasVerdict := data["verdict"]
			assert.Equal(t, ev.Verdict != nil, hasVerdict)
		})
	}
}

// TestPayloadCarriesEveryNumber: every check comes with both sides' numbers, the effect
// with its interval, the samples and the reason; NaN and unbounded ends survive.
func TestPayloadCarriesEveryNumber(t *testing.T) {
	ev := emittest.Events()[2]
	b, err := emit.Encode(ev, emit.LinkTemplates{}, nil)
	require.NoError(t, err)
	var got struct {
		Data struct {
			Links   any `json:"links"`
			Verdict struct {
				Decision   string           `json:"decision"`
				ExitCode   int              `json:"exitCode"`
				DurationMs float64          `json:"durationMs"`
				Counts     map[string]int   `json:"counts"`
				Advisories []string         `json:"advisories"`
				Checks     []map[string]any `json:"checks"`
			} `json:"verdict"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Nil(t, got.Data.Links, "no link configured: no links")
	v := got.Data.Verdict
	assert.Equal(t, "rollback", v.Decision)
	assert.Equal(t, 1, v.ExitCode)
	assert.Equal(t, 71140.0, v.DurationMs)
	assert.Equal(t, map[string]int{"pass": 1, "fail": 1, "inconclusive": 1}, v.Counts)
	require.Len(t, v.Checks, 3)
	p95 := v.Checks[0]
	assert.Equal(t, map[string]any{"n": 400.0, "value": 0.0303, "lower": 0.0291, "upper": 0.0316}, p95["baseline"])
	assert.Equal(t, map[string]any{"value": 1.37, "lower": 1.32, "upper": 1.45}, p95["ratio"])
	assert.Equal(t, map[string]any{"maxRatio": 1.2, "direction": "increase"}, p95["threshold"])
	assert.Equal(t, "p95 green 41.5ms vs blue 30.3ms: ratio 1.37 [1.32, 1.45] > 1.20 allowed", p95["reason"])
	errs := v.Checks[1]
	assert.Equal(t, map[string]any{"n": 0.0, "value": nil, "lower": 0.0, "upper": "Inf"}, errs["baseline"])
	assert.Equal(t, map[string]any{"value": nil, "lower": "-Inf", "upper": "Inf"}, errs["difference"])
	assert.Equal(t, map[string]any{"observed": 400.0, "succeeded": 398.0}, errs["evidence"])
	assert.Equal(t, map[string]any{"value": 0.52, "lower": 0.47, "upper": 0.57}, v.Checks[2]["statistic"])
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, ev := range emittest.Events() {
		b, err := emit.Encode(ev, emittest.Links, nil)
		require.NoError(t, err)
		p, err := emit.Decode(b)
		require.NoError(t, err, string(ev.Type))
		again, err := p.Marshal()
		require.NoError(t, err)
		assert.Equal(t, string(b), string(again), "a payload reads back identically: %s", ev.Type)
	}
	_, err := emit.Decode([]byte(`{"type":"analysis.finished","timestamp":"2026-03-01T12:00:00Z","data":{}}`))
	assert.ErrorContains(t, err, `unknown event type "analysis.finished"`)
	_, err = emit.Decode([]byte(`{"type":`))
	assert.ErrorContains(t, err, "decode payload")
}

func TestNewPayloadChecksTheEvent(t *testing.T) {
	_, err := emit.NewPayload(emit.Event{Type: "analysis.finished", Analysis: emittest.Analysis()}, emit.LinkTemplates{})
	assert.ErrorContains(t, err, `unknown event type "analysis.finished"`)
	_, err = emit.NewPayload(emit.Event{Type: emit.Started}, emit.LinkTemplates{})
	assert.ErrorContains(t, err, "names no analysis")
}

func TestPayloadLinksEscapeTheID(t *testing.T) {
	a := emittest.Analysis()
	a.ID = "team a/rollout#1"
	p, err := emit.NewPayload(emit.Event{Type: emit.Started, Analysis: a}, emit.LinkTemplates{Dashboard: "https://gl.example/ui/#/analyses/{id}?tab=checks"})
	require.NoError(t, err)
	require.NotNil(t, p.Data.Links)
	assert.Equal(t, "https://gl.example/ui/#/analyses/team%20a%2Frollout%231?tab=checks", p.Data.Links.Dashboard)
	assert.Empty(t, p.Data.Links.API)
}

// fullPayload sets every field of the payload, so that the schema test sees them all.
func fullPayload() *emit.Payload {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := func(v float64) *emit.Number { x := emit.Number(v); return &x }
	ok := int64(9)
	est := compare.ExactEstimate{N: 10, Value: 1, Lower: 0.5, Upper: math.Inf(1)}
	eff := compare.ExactEffect{Value: math.NaN(), Lower: math.Inf(-1), Upper: 2}
	return &emit.Payload{
		Type: emit.Overridden, Timestamp: at,
		Data: emit.Data{
			APIVersion: emit.APIVersion,
			Analysis: emit.AnalysisData{
				ID: "an_1", Spec: "checkout",
				Baseline:  emit.Environment{Name: "blue", URL: "http://blue"},
				Candidate: emit.Environment{Name: "green", URL: "http://green"},
				Labels:    map[string]string{"rollout": "checkout"}, StartedAt: &at,
			},
			Message: "note",
			Smoke: &emit.Smoke{Status: verdict.StatusFailed, Counts: emit.SmokeCounts{Steps: 4, Passed: 1, Failed: 1, Errored: 1, Skipped: 1},
				Suites: []emit.SmokeSuite{{Name: "smoke", Environment: "green", Status: verdict.StatusFailed, Error: "timeout",
					Failed: []emit.SmokeStep{{Name: "login", Status: verdict.StatusFailed, Error: "got 500"}}}}},
			Verdict: &emit.VerdictData{
				Decision: verdict.Promote, Reason: "r", Phase: verdict.PhaseWatch, Undecided: true, DurationMs: 1, WatchMs: 2, ExitCode: 1,
				Counts: emit.Counts{Pass: 1, Fail: 1, Inconclusive: 1},
				Checks: []emit.Check{{
					Name: "p95", Critical: true, Kind: "latency", Metric: "p95", State: compare.Fail, Source: "prometheus",
					Baseline: est, Candidate: est, Ratio: eff, Difference: eff, Statistic: &eff,
					Threshold: emit.Threshold{MaxRatio: n(1.2), MaxIncrease: n(0.1), Max: n(3), Direction: compare.Increase},
					Alpha:     0.01, Reason: "r", Error: "e", Warnings: []string{"w"},
					Evidence: &emit.Evidence{Observed: 10, Succeeded: &ok},
				}},
				Advisories: []string{"a"}, Diagnosis: []string{"d"},
				Override: &emit.Override{Decision: verdict.Promote, By: "alice", Why: "why", At: at, Was: verdict.Rollback, WasReason: "was"},
			},
			Links: &emit.Links{API: "https://gl.example/api", Dashboard: "https://gl.example/ui"},
		},
	}
}

// requireAllSet fails on any zero field at any depth: a field added to the payload types
// must be added to fullPayload, and so reach the schema test.
func requireAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Kind() == reflect.Float64 {
		return // NaN, ±Inf and 0 are all meaningful
	}
	require.False(t, v.IsZero(), "fullPayload leaves %s unset", path)
	if v.Type() == reflect.TypeFor[time.Time]() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		requireAllSet(t, v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			requireAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		for i := range v.Len() {
			requireAllSet(t, v.Index(i), path+"[]")
		}
	}
}

// TestSchemaDocumentsEveryField: the schema and the payload types describe the same fields —
// every field a payload can carry is in the schema with a description, and the schema has
// no field the payload lacks; every object refuses unknown fields.
func TestSchemaDocumentsEveryField(t *testing.T) {
	sch, raw := loadSchema(t)
	p := fullPayload()
	requireAllSet(t, reflect.ValueOf(p).Elem(), "Payload")
	b, err := p.Marshal()
	require.NoError(t, err)
	validate(t, sch, b)

	var inst any
	require.NoError(t, json.Unmarshal(b, &inst))
	seen := map[string]bool{}
	walkInstance(t, raw, raw, inst, "", seen)
	documented := map[string]bool{}
	walkSchema(t, raw, raw, "", documented, map[string]bool{})
	var missing, extra []string
	for k := range documented {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	for k := range seen {
		if !documented[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "fields the schema documents but no payload carries")
	assert.Empty(t, extra, "fields a payload carries that the schema does not document")
	assert.Greater(t, len(documented), 60)
}

func resolve(t *testing.T, root, s map[string]any) map[string]any {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, ok := root["$defs"].(map[string]any)[name].(map[string]any)
		require.True(t, ok, "unresolved %s", ref)
		return def
	}
	return s
}

func walkInstance(t *testing.T, root, s map[string]any, v any, path string, seen map[string]bool) {
	t.Helper()
	s = resolve(t, root, s)
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for k, e := range x {
			if ps, ok := props[k].(map[string]any); ok {
				seen[path+"/"+k] = true
				walkInstance(t, root, ps, e, path+"/"+k, seen)
			} else if as, ok := s["additionalProperties"].(map[string]any); ok {
				seen[path+"/*"] = true
				walkInstance(t, root, as, e, path+"/*", seen)
			} else {
				seen[path+"/"+k] = true
			}
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for _, e := range x {
			walkInstance(t, root, items, e, path+"[]", seen)
		}
	}
}

func walkSchema(t *testing.T, root, s map[string]any, path string, out, visiting map[string]bool) {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		if visiting[ref+path] {
			return
		}
		visiting[ref+path] = true
	}
	s = resolve(t, root, s)
	if props, ok := s["properties"].(map[string]any); ok {
		assert.Equal(t, false, s["additionalProperties"], "%s must refuse unknown fields", path)
		for k, p := range props {
			ps := p.(map[string]any)
			assert.NotEmpty(t, ps["description"], "%s/%s has no description", path, k)
			out[path+"/"+k] = true
			walkSchema(t, root, ps, path+"/"+k, out, visiting)
		}
	}
	if as, ok := s["additionalProperties"].(map[string]any); ok {
		out[path+"/*"] = true
		walkSchema(t, root, as, path+"/*", out, visiting)
	}
	if items, ok := s["items"].(map[string]any); ok {
		walkSchema(t, root, items, path+"[]", out, visiting)
	}
}

// plant sets every string at any depth — map keys included — to a text holding the secret.
func plant(v reflect.Value, text string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Pointer:
		if !v.IsNil() {
			plant(v.Elem(), text)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				plant(v.Field(i), text)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			plant(v.Index(i), text)
		}
	case reflect.Map:
		v.Set(reflect.ValueOf(map[string]string{text: text}))
	}
}

// TestPayloadRedactsEveryText: with a secret in every text of the payload, none survives
// redaction, in any encoding the redactor knows.
func TestPayloadRedactsEveryText(t *testing.T) {
	const tok = "tok-3f9a7c1e5b"
	rd := secret.NewRedactor(secret.Secret(tok))
	p := fullPayload()
	plant(reflect.ValueOf(&p.Data).Elem(), `x "`+tok+`" <y>`)
	p.Redact(rd.Redact)
	b, err := p.Marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(b), tok)
	assert.Equal(t, rd.Redact(string(b)), string(b), "no encoded form of the secret either")
	assert.Contains(t, string(b), `"labels":{"x \"<secret>\" <y>":"x \"<secret>\" <y>"}`, "label names too; no HTML escaping")
}

// TestEncodeKeepsSecretsOut: a verdict whose environment URLs carry credentials and whose
// reasons, errors and labels quote a header's token or a password is sent with none of them;
// the event itself is left as it was.
func TestEncodeKeepsSecretsOut(t *testing.T) {
	const (
		password = "pa55:w0rd/x"
		token    = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0"
		apiKey   = "dd-0123456789abcdef"
	)
	blueURL := "https://deploy:" + "pa55%3Aw0rd%2Fx" + "@blue.internal:8443"
	rd := secret.NewRedactor(secret.URLSecrets(blueURL)...)
	rd.Add(secret.HeaderValues("Authorization", "Bearer "+token)...)
	rd.Add(secret.HeaderValues("DD-API-KEY", apiKey)...)
	rd.Add(secret.Secret(password))

	ev := emittest.Events()[2]
	ev.Analysis.Baseline.URL = blueURL
	ev.Analysis.Labels = map[string]string{"auth": "Bearer " + token}
	ev.Message = "started by " + apiKey
	v := ev.Verdict
	v.Baseline.URL = blueURL
	v.Reason = `login: body == "` + password + `"`
	v.Checks[1].Error = "GET https://api.datadoghq.com/api/v1/query?api_key=" + apiKey + ": 403"
	v.Checks[1].Warnings = []string{"header Authorization: Bearer " + token}
	v.Diagnosis = []string{"blue unreachable at " + blueURL}
	v.Smoke = emittest.Smoke()
	v.Smoke.Suites[0].Steps[1].Error = `{"password":"` + password + `"}`

	b, err := emit.Encode(ev, emittest.Links, rd)
	require.NoError(t, err)
	for _, s := range []string{password, "pa55%3Aw0rd%2Fx", token, apiKey, "pa55"} {
		assert.NotContains(t, string(b), s)
	}
	assert.Equal(t, rd.Redact(string(b)), string(b))
	assert.Contains(t, string(b), `"url":"https://<secret>@blue.internal:8443"`)
	sch, _ := loadSchema(t)
	validate(t, sch, b)

	assert.Equal(t, blueURL, ev.Verdict.Baseline.URL, "the caller's verdict is not redacted in place")
	assert.True(t, slices.Contains(ev.Verdict.Checks[1].Warnings, "header Authorization: Bearer "+token))
}
