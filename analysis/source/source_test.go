package source

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A source's URL in an error never carries what could be a credential.
func TestPublicURL(t *testing.T) {
	cases := map[string]string{
		"http://prom:9090":                          "http://prom:9090",
		"https://user:pw@prom.example/api/?token=x": "https://prom.example/api",
		"https://tok@prom.example#frag":             "https://prom.example",
		"not a url":                                 "",
	}
	for raw, want := range cases {
		assert.Equal(t, want, PublicURL(raw), raw)
	}
	e := &Error{Source: "prometheus", URL: "http://prom:9090", Env: "green", Reason: "HTTP 503"}
	assert.Equal(t, "prometheus at http://prom:9090 for green: HTTP 503", e.Error())
}
