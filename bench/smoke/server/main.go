// Command server is the tiny HTTP service the smoke benchmark runs its
// 50-step suite against. It implements exactly three endpoints:
//
//	POST /auth/login        {"username":"testuser","password":"testpass"} -> 200 {"token":"..."}
//	GET  /api/user/profile  Authorization: Bearer <token>                 -> 200 {"id":1,"username":"testuser",...}
//	POST /api/orders        Authorization: Bearer <token>, JSON body      -> 201 {"orderId":"ord-N",...}
//
// It prints its base URL as the first line on stdout, so a caller can use
// -addr 127.0.0.1:0 and read back the port that was chosen. With -log it
// also writes one line per request ("METHOD PATH STATUS") to stderr, which
// the runner uses to check that a tool really sent every request.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

const token = "bench-token-4f2a9c"

var orderSeq atomic.Int64

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var (
	tokenBody   = []byte(`{"token":"` + token + `"}`)
	profileBody = []byte(`{"id":1,"username":"testuser","email":"testuser@example.com"}`)
	unauthBody  = []byte(`{"error":"unauthorized"}`)
	badReqBody  = []byte(`{"error":"bad request"}`)
)

func authorized(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+token
}

func login(w http.ResponseWriter, r *http.Request) {
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
		writeJSON(w, http.StatusBadRequest, badReqBody)
		return
	}
	if creds.Username != "testuser" || creds.Password != "testpass" {
		writeJSON(w, http.StatusUnauthorized, unauthBody)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody)
}

func profile(w http.ResponseWriter, r *http.Request) {
	if !authorized(r) {
		writeJSON(w, http.StatusUnauthorized, unauthBody)
		return
	}
	writeJSON(w, http.StatusOK, profileBody)
}

func orders(w http.ResponseWriter, r *http.Request) {
	if !authorized(r) {
		writeJSON(w, http.StatusUnauthorized, unauthBody)
		return
	}
	var in struct {
		Item     string `json:"item"`
		Quantity int    `json:"quantity"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Item == "" || in.Quantity < 1 {
		writeJSON(w, http.StatusBadRequest, badReqBody)
		return
	}
	out, _ := json.Marshal(struct {
		OrderID  string `json:"orderId"`
		Item     string `json:"item"`
		Quantity int    `json:"quantity"`
	}{fmt.Sprintf("ord-%d", orderSeq.Add(1)), in.Item, in.Quantity})
	writeJSON(w, http.StatusCreated, out)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// logRequests logs each request after it is served.
func logRequests(next http.Handler) http.Handler {
	l := log.New(os.Stderr, "", 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		l.Printf("%s %s %d", r.Method, r.URL.Path, rec.status)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	logReqs := flag.Bool("log", false, "log every request to stderr")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", login)
	mux.HandleFunc("GET /api/user/profile", profile)
	mux.HandleFunc("POST /api/orders", orders)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	_ = os.Stdout.Sync()
	var h http.Handler = mux
	if *logReqs {
		h = logRequests(mux)
	}
	log.Fatal(http.Serve(ln, h))
}
