package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name       string
		cfg        app.Config
		body       string
		wantStatus int
		wantError  string // substring of the error field; empty on success
	}{
		{name: "default credentials", body: `{"username":"testuser","password":"testpass"}`, wantStatus: http.StatusOK},
		{name: "configured credentials", cfg: app.Config{Username: "alice", Password: "s3cret"},
			body: `{"username":"alice","password":"s3cret"}`, wantStatus: http.StatusOK},
		{name: "defaults no longer work once configured", cfg: app.Config{Username: "alice", Password: "s3cret"},
			body: `{"username":"testuser","password":"testpass"}`, wantStatus: http.StatusUnauthorized, wantError: "invalid credentials"},
		{name: "wrong password", body: `{"username":"testuser","password":"nope"}`, wantStatus: http.StatusUnauthorized, wantError: "invalid credentials"},
		{name: "wrong username", body: `{"username":"mallory","password":"testpass"}`, wantStatus: http.StatusUnauthorized, wantError: "invalid credentials"},
		{name: "empty object", body: `{}`, wantStatus: http.StatusUnauthorized, wantError: "invalid credentials"},
		{name: "malformed JSON", body: `{"username":`, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "not an object", body: `["testuser","testpass"]`, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "trailing data", body: `{"username":"testuser","password":"testpass"} {}`, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "empty body", body: ``, wantStatus: http.StatusBadRequest, wantError: "malformed JSON"},
		{name: "oversized body", body: `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, wantStatus: http.StatusRequestEntityTooLarge, wantError: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.cfg)

			r := s.do("POST", "/auth/login", tt.body)

			r.wantStatus(t, tt.wantStatus)
			got := r.object(t)
			if tt.wantError == "" {
				if tok, _ := got["token"].(string); len(tok) < 32 {
					t.Errorf("token %q is too short to be random", tok)
				}
				return
			}
			if msg, _ := got["error"].(string); !strings.Contains(msg, tt.wantError) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantError)
			}
		})
	}
}

func TestLoginIssuesDistinctTokens(t *testing.T) {
	s := newTestServer(t, app.Config{})
	seen := map[string]bool{}
	for range 100 {
		tok := s.login()
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestProfile(t *testing.T) {
	s := newTestServer(t, app.Config{})
	good := s.login()
	tests := []struct {
		name       string
		auth       string // Authorization header; empty sends none
		wantStatus int
	}{
		{name: "valid token", auth: "Bearer " + good, wantStatus: http.StatusOK},
		{name: "scheme is case-insensitive", auth: "bearer " + good, wantStatus: http.StatusOK},
		{name: "no header", wantStatus: http.StatusUnauthorized},
		{name: "wrong scheme", auth: "Basic " + good, wantStatus: http.StatusUnauthorized},
		{name: "scheme only", auth: "Bearer", wantStatus: http.StatusUnauthorized},
		{name: "garbage token", auth: "Bearer not-a-token", wantStatus: http.StatusUnauthorized},
		{name: "tampered token", auth: "Bearer " + tamper(good), wantStatus: http.StatusUnauthorized},
		{name: "truncated token", auth: "Bearer " + good[:len(good)-1], wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.auth != "" {
				headers = []string{"Authorization", tt.auth}
			}

			r := s.do("GET", "/api/user/profile", "", headers...)

			r.wantStatus(t, tt.wantStatus)
			if tt.wantStatus == http.StatusOK {
				r.wantJSON(t, `{"id":1,"username":"testuser","email":"testuser@example.com"}`)
				return
			}
			if _, ok := r.object(t)["error"]; !ok {
				t.Errorf("body %s has no error field", r.body)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestProfileUsesConfiguredUsername(t *testing.T) {
	s := newTestServer(t, app.Config{Username: "alice", Password: "pw"})
	r := s.do("POST", "/auth/login", `{"username":"alice","password":"pw"}`)
	r.wantStatus(t, http.StatusOK)
	tok := r.object(t)["token"].(string)

	r = s.do("GET", "/api/user/profile", "", "Authorization", "Bearer "+tok)

	r.wantStatus(t, http.StatusOK)
	r.wantJSON(t, `{"id":1,"username":"alice","email":"alice@example.com"}`)
}

// Tokens belong to the store, like sessions in a database: two versions
// sharing one accept each other's tokens, unrelated apps do not.
func TestTokensFollowTheStore(t *testing.T) {
	shared := app.NewStore()
	blue := newTestServer(t, app.Config{Color: "blue", Store: shared})
	green := newTestServer(t, app.Config{Color: "green", Store: shared})
	other := newTestServer(t, app.Config{Color: "other"})
	tok := blue.login()
	tests := []struct {
		name       string
		server     *testServer
		wantStatus int
	}{
		{name: "issuing app", server: blue, wantStatus: http.StatusOK},
		{name: "app sharing the store", server: green, wantStatus: http.StatusOK},
		{name: "app with its own store", server: other, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.server.do("GET", "/api/user/profile", "", "Authorization", "Bearer "+tok)
			r.wantStatus(t, tt.wantStatus)
		})
	}
}

// tamper changes one character inside the MAC part of a token, keeping it
// valid base64 so the app has to reject it on the signature, not the
// encoding.
func tamper(tok string) string {
	i := len(tok) - 5
	repl := byte('A')
	if tok[i] == 'A' {
		repl = 'B'
	}
	return tok[:i] + string(repl) + tok[i+1:]
}
