package server

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRoutes holds the OpenAPI document and the routes equal: every route is in
// the document with its scope, and every operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	var documented []string
	scopes := map[string]string{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			var op struct {
				Scope     string `json:"x-greenlight-scope"`
				Responses map[string]json.RawMessage
			}
			require.NoError(t, json.Unmarshal(raw, &op), key)
			scopes[key] = op.Scope
			assert.NotEmpty(t, op.Responses, key)
		}
	}
	s := &Server{}
	var served []string
	for _, rt := range s.routeTable() {
		key := rt.Method + " " + rt.Pattern
		served = append(served, key)
		assert.Equal(t, rt.Scope.String(), scopes[key], "the scope of %s", key)
	}
	sort.Strings(documented)
	sort.Strings(served)
	assert.Equal(t, served, documented)
}

// TestPublishedOpenAPIIsCurrent: docs/openapi.json is the document the daemon serves.
func TestPublishedOpenAPIIsCurrent(t *testing.T) {
	published, err := os.ReadFile("../docs/openapi.json")
	require.NoError(t, err)
	assert.Equal(t, string(openAPI), string(published), "copy server/openapi.json to docs/openapi.json")
}

func TestServesOpenAPI(t *testing.T) {
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	status, body := d.call("GET", "/api/v1/openapi.json", "", nil)
	assert.Equal(t, 200, status, "the document needs no token")
	assert.JSONEq(t, string(openAPI), string(body))
}
