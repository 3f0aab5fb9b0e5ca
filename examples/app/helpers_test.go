package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

// reply is a fully read response, so tests can assert on it after the
// connection is released.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// object decodes the body as a JSON object, failing the test otherwise:
// every endpoint promises JSON, errors included.
func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// wantStatus fails the test now if the status is not want, showing the
// body, because later assertions on the body would only add noise.
func (r reply) wantStatus(t *testing.T, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body %s", r.status, want, r.body)
	}
}

// wantJSON compares the body with want as JSON values, ignoring key order
// and spacing.
func (r reply) wantJSON(t *testing.T, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body = %s, want %s", r.body, want)
	}
}

// testServer is an App behind a real loopback listener, with the client
// tests use to reach it.
type testServer struct {
	t      *testing.T
	url    string
	app    *app.App
	client *http.Client
}

func newTestServer(t *testing.T, cfg app.Config) *testServer {
	t.Helper()
	a := app.New(cfg)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	client := srv.Client()
	// Tests look at redirects themselves instead of following them.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &testServer{t: t, url: srv.URL, app: a, client: client}
}

// do sends one request. body is raw text so tests can send malformed JSON;
// headers are name/value pairs. It fails the test if there is no response,
// so it must only run on the test's goroutine; others use send.
func (s *testServer) do(method, path, body string, headers ...string) reply {
	s.t.Helper()
	r, err := s.send(method, path, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// send is do for any goroutine: it returns the error instead.
func (s *testServer) send(method, path, body string, headers ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.url+path, rd)
	if err != nil {
		return reply{}, fmt.Errorf("new request: %w", err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// login returns a bearer token for the default credentials.
func (s *testServer) login() string {
	s.t.Helper()
	r := s.do("POST", "/auth/login", `{"username":"testuser","password":"testpass"}`)
	r.wantStatus(s.t, http.StatusOK)
	tok, _ := r.object(s.t)["token"].(string)
	if tok == "" {
		s.t.Fatalf("login returned no token: %s", r.body)
	}
	return tok
}

// authed sends a request with a fresh bearer token plus headers.
func (s *testServer) authed(method, path, body string, headers ...string) reply {
	s.t.Helper()
	return s.do(method, path, body, append([]string{"Authorization", "Bearer " + s.login()}, headers...)...)
}

// createOrder posts an order and returns its decoded response.
func (s *testServer) createOrder(headers ...string) map[string]any {
	s.t.Helper()
	r := s.authed("POST", "/api/orders", `{"item":"test","quantity":1}`, headers...)
	r.wantStatus(s.t, http.StatusCreated)
	return r.object(s.t)
}
