package specs

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noEnv is an environment with nothing set, so tests do not depend on the machine's.
func noEnv(string) (string, bool) { return "", false }

func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestInvalid holds one file per validation rule with the exact errors and positions expected.
func TestInvalid(t *testing.T) {
	cases := []struct {
		rule string
		want []string
	}{
		{"alias-cycle", []string{
			`8:17: alias *a refers to itself (its anchor &a contains it)`,
		}},
		{"alias-expansion", []string{
			`13:44: aliases expand to more than 100000 nodes`,
		}},
		{"defaults-negative-redirects", []string{
			`5:3: defaults.maxRedirects must not be negative`,
		}},
		{"header-line-break", []string{
			`8:25: step "health": header "X-Note": the value contains a line break (CR or LF)`,
		}},
		{"header-line-break-from-var", []string{
			`9:25: step "health": header "X-Note": the value renders with a line break (CR or LF) from vars, an environment variable or a secret`,
		}},
		{"no-documents", []string{
			` no documents (empty or only comments)`,
		}},
		{"null-http", []string{
			`6:10: step "health": http.url is required`,
		}},
		{"template-arity", []string{
			`6:17: invalid template "/health/{{ uuid 1 }}": uuid takes 0 arguments, got 1`,
		}},
		{"template-call", []string{
			`7:17: invalid template "/health/{{ call .vars.f }}": function "call" is not allowed`,
		}},
		{"template-define", []string{
			`6:17: invalid template "/health/{{ define \"x\" }}y{{ end }}": {{ define }} and {{ block }} are not allowed: a template is one string`,
		}},
		{"template-env-not-literal", []string{
			"9:17: invalid template \"/echo?v={{ env .name }}\": env needs a literal name, e.g. env `NAME`",
		}},
		{"template-field-of-string", []string{
			`7:17: vars.user is a string: it has no field id`,
		}},
		{"template-include", []string{
			`6:17: invalid template "/health/{{ template \"x\" }}": {{ template }} is not allowed: a template is one string`,
		}},
		{"template-printf-width", []string{
			`6:17: invalid template "/health/{{ printf \"%0999999999d\" 1 }}": printf widths and precisions must be literal numbers up to 999`,
		}},
		{"template-range-number", []string{
			`6:18: invalid template "{{ range 1000000000 }}x{{ end }}": range over a number is not allowed`,
		}},
		{"api-version", []string{
			`1:13: apiVersion must be "greenlight/v1", got "greenlight/v2"`,
		}},
		{"bad-duration", []string{
			`6:14: invalid duration "10 seconds": use Go duration syntax such as 300ms, 5s, 1m30s`,
		}},
		{"body-size", []string{
			`5:16: invalid size "lots": use bytes or a unit such as 512KiB or 10MiB`,
		}},
		{"capture-before-defined", []string{
			`8:32: capture "token" is used before it is defined (captures come from earlier steps)`,
		}},
		{"capture-form", []string{
			`8:11: a capture takes exactly one of json, header, regex, status, body`,
		}},
		{"capture-name", []string{
			`8:17: capture name "order-id" must be an identifier (letters, digits, _) and not vars, captures or env`,
		}},
		{"capture-regex", []string{
			"8:11: capture: invalid regex \"id=([0-9]+\": error parsing regexp: missing closing ): `id=([0-9]+`",
		}},
		{"capture-shorthand-before-defined", []string{
			`6:17: capture "orderId" is used before it is defined (captures come from earlier steps)`,
		}},
		{"duplicate-key", []string{
			`8:7: duplicate field "url"`,
		}},
		{"duplicate-step-name", []string{
			`7:5: duplicate step name "health" (first at line 5)`,
		}},
		{"duration-without-unit", []string{
			`5:12: duration "5" needs a unit, e.g. 5ms or 5s`,
		}},
		{"expression-type", []string{
			`8:9: invalid expression "status + 1": expected bool, but got int`,
		}},
		{"header-name", []string{
			`7:7: step "health": invalid header name "Bad Header"`,
		}},
		{"http-method", []string{
			`6:11: step "health": unknown HTTP method "FETCH" (use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)`,
		}},
		{"invalid-expression", []string{
			`9:22: invalid expression "json.status = 'ok'": unexpected token Operator("=")`,
		}},
		{"invalid-template", []string{
			`6:17: invalid template "/health/{{ .vars.id ": unclosed action`,
		}},
		{"missing-name", []string{
			`3:11: metadata.name is required`,
		}},
		{"missing-step-name", []string{
			`5:5: step 1 has no name`,
		}},
		{"missing-url", []string{
			`6:11: step "health": http.url is required`,
		}},
		{"no-steps", []string{
			`4:8: suite "s" has no steps`,
		}},
		{"not-a-mapping", []string{
			`1:1: a document must be a mapping with apiVersion, kind and metadata, got a list`,
		}},
		{"retry-on", []string{
			`5:12: retries.on: unknown value "4xx" (use connection, timeout, 5xx, 429)`,
		}},
		{"schema-file", []string{
			`7:14: schema "no-such-schema.json": no such file or folder`,
		}},
		{"secret-unset", []string{
			`5:13: secret "password": secret environment variable "GREENLIGHT_TEST_UNSET_SECRET" is not set`,
		}},
		{"step-kind-typo", []string{
			`6:5: unknown field "htp" (did you mean "http"?)`,
		}},
		{"tls-pair", []string{
			`5:8: tls: certFile and keyFile go together`,
			`5:8: tls: cannot read "client.pem": no such file or folder`,
		}},
		{"two-bodies", []string{
			`7:7: step "login": use only one of body, json and form`,
		}},
		{"two-step-kinds", []string{
			`7:5: duplicate field "http"`,
		}},
		{"undeclared-secret", []string{
			`9:24: secret "GREENLIGHT_TEST_NO_SUCH_SECRET" is not declared in secrets and no environment variable GREENLIGHT_TEST_NO_SUCH_SECRET is set`,
		}},
		{"undefined-var", []string{
			`7:17: variable "usr" is not defined in vars (nor given with --var)`,
		}},
		{"notifications-endpoint", []string{
			`4:8: retry.maxBackoff (5s) is shorter than retry.minBackoff (1m0s)`,
			`9:41: endpoint deploy-bot: unknown event "decide" (want one of started, smoke_done, decided, watch_regression, aborted, overridden)`,
			`10:5: duplicate endpoint name "deploy-bot" (first at testdata/invalid-notifications-endpoint.yaml:6:5)`,
			`10:5: endpoint deploy-bot: kind is required (webhook, slack)`,
			`12:5: endpoint 3 has no name`,
			`12:5: endpoint 3: url is required`,
		}},
		{"notifications-twice", []string{
			`6:1: a second Notifications document (the first is at testdata/invalid-notifications-twice.yaml:1:1): declare every endpoint in one`,
		}},
		{"notify-unknown-endpoint", []string{
			`15:22: notify: no endpoint named "deploys-channel" in testdata/invalid-notify-unknown-endpoint.yaml:1:1 (have: deploy-bot)`,
			`15:39: notify: endpoint "deploy-bot" is named twice`,
		}},
		// A misspelled required field is unknown, and not also missing.
		{"misspelled-required", []string{
			`3:12: unknown field "nme" (did you mean "name"?)`,
			`6:12: unknown field "ur" (did you mean "url"?)`,
		}},
		{"misspelled-steps", []string{
			`4:1: unknown field "stps" (did you mean "steps"?)`,
		}},
		{"unknown-field", []string{
			`6:26: unknown field "metod" (did you mean "method"?)`,
		}},
		{"unknown-kind", []string{
			`2:7: unknown kind "Suit" (one of Suite, Analysis, Notifications)`,
		}},
		{"unknown-step-kind", []string{
			`6:5: unknown field "grpc" (step kinds: http)`,
		}},
		{"unknown-template-function", []string{
			`6:17: invalid template "/health/{{ upper .vars.id }}": function "upper" not defined`,
		}},
		{"unknown-top-level-field", []string{
			`4:1: unknown field "stepz" (did you mean "steps"?)`,
		}},
		{"unset-env", []string{
			`6:17: environment variable "GREENLIGHT_TEST_UNSET" is not set (use ${GREENLIGHT_TEST_UNSET:-default} to give a default)`,
		}},
		{"wrong-type-list", []string{
			`5:3: steps: expected a list, got a mapping`,
		}},
		{"wrong-type", []string{
			`6:13: always: expected a boolean (true or false), got "maybe"`,
		}},
		{"yaml-syntax", []string{
			`6:11: invalid YAML: did not find expected ',' or '}'`,
		}},
	}
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every testdata/invalid-*.yaml needs a case, and every case a file")
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			file := filepath.Join("testdata", "invalid-"+tc.rule+".yaml")
			_, err := Load([]string{file}, LoadOptions{LookupEnv: noEnv})
			require.Error(t, err)
			var es Errors
			require.ErrorAs(t, err, &es)
			var got []string
			for _, e := range es {
				got = append(got, strings.TrimPrefix(e.Error(), file+":"))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
