package traces

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Receiver is an OTLP/HTTP trace receiver and the per-environment span store behind it. It is
// safe for concurrent use: ServeHTTP, Fetch and Shape may run at the same time.
type Receiver struct {
	cfg     Config
	log     *slog.Logger
	envs    []string       // distinct environment names, sorted
	byValue map[string]int // attribute value → index in envs
	byEnv   map[string]int // environment name → index in envs
	rings   []*ring        // by index in envs
	names   *names
	known   []string // `"v1" (blue)`, quoted in rejection messages

	// token is the SHA-256 of Config.Token: the token itself is not kept, so no log or dump of
	// the receiver can show it. auth says a token is required.
	token [sha256.Size]byte
	auth  bool

	rejected atomic.Int64
	refused  atomic.Int64  // requests refused for a missing or wrong bearer token
	slots    chan struct{} // requests being read and decoded

	unknownMu   sync.Mutex
	unknownSeen map[string]struct{} // values already warned about, bounded
}

// maxUnknownWarned bounds the distinct unknown attribute values logged once each.
const maxUnknownWarned = 64

// NewReceiver validates cfg, applies its defaults and returns an empty receiver. A nil logger
// discards.
func NewReceiver(cfg Config, logger *slog.Logger) (*Receiver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	envs := cfg.environments()
	r := &Receiver{
		cfg:         cfg,
		log:         logger,
		envs:        envs,
		byValue:     make(map[string]int, len(cfg.Values)),
		byEnv:       make(map[string]int),
		names:       newNames(len(envs)),
		unknownSeen: make(map[string]struct{}),
		slots:       make(chan struct{}, cfg.MaxConcurrentRequests),
	}
	if cfg.Token != "" {
		r.token, r.auth = sha256.Sum256([]byte(cfg.Token.Reveal())), true
	}
	r.cfg.Token = "" // kept as its digest only
	for i, env := range r.envs {
		r.byEnv[env] = i
		r.rings = append(r.rings, newRing(cfg.MaxSpans))
	}
	for v, env := range cfg.Values {
		r.byValue[v] = r.byEnv[env]
		r.known = append(r.known, fmt.Sprintf("%q (%s)", v, env))
	}
	slices.Sort(r.known)
	return r, nil
}

// Environments returns the environment names spans are attributed to, sorted.
func (r *Receiver) Environments() []string { return slices.Clone(r.envs) }

// encoding is the wire format of a request, and so of its response.
type encoding int

const (
	encUnknown encoding = iota
	encProto
	encJSON
)

const (
	contentProto = "application/x-protobuf"
	contentJSON  = "application/json"
)

// google.rpc.Code values for the Status body of error responses.
const (
	rpcInvalidArgument = 3
	rpcUnimplemented   = 12
	rpcUnavailable     = 14
	rpcUnauthenticated = 16
)

// ServeHTTP handles POST /v1/traces: application/x-protobuf and application/json bodies,
// Content-Encoding gzip; 200 with an ExportTraceServiceResponse (partial_success with
// rejected_spans and a message when some spans could not be attributed to an environment);
// 401 with WWW-Authenticate when a token is configured and the request does not carry it as
// "Authorization: Bearer <token>", 400 for malformed bodies, 405 for other methods, 413
// oversize, 415 unknown content type or encoding, 503 with Retry-After when the request gave
// up waiting for a free slot. Responses use the request's encoding (protobuf or JSON); errors
// carry a google.rpc.Status as OTLP asks. It does not look at the path: mount it at /v1/traces.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	enc := encodingOf(req.Header.Get("Content-Type"))
	// Before anything else, so that a sender without the token costs no slot and no read.
	if r.auth {
		if ok, given := r.authorized(req.Header.Get("Authorization")); !ok {
			r.refuse(w, req, enc, given)
			return
		}
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.fail(w, enc, http.StatusMethodNotAllowed, rpcUnimplemented, "method "+req.Method+" not allowed: OTLP/HTTP exports are POST")
		return
	}
	if enc == encUnknown {
		r.fail(w, enc, http.StatusUnsupportedMediaType, rpcInvalidArgument,
			fmt.Sprintf("content type %q not supported: use %s or %s", quotable(req.Header.Get("Content-Type")), contentProto, contentJSON))
		return
	}
	gz, ok := gzipped(req.Header.Get("Content-Encoding"))
	if !ok {
		r.fail(w, enc, http.StatusUnsupportedMediaType, rpcInvalidArgument,
			fmt.Sprintf("content encoding %q not supported: use gzip or none", quotable(req.Header.Get("Content-Encoding"))))
		return
	}

	// A request holds its body and its decoded form until it is stored; bounding how many are
	// in flight bounds that memory. Others wait (the exporter sees latency, not errors) unless
	// they give up.
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-req.Context().Done():
		w.Header().Set("Retry-After", "1")
		r.fail(w, enc, http.StatusServiceUnavailable, rpcUnavailable, "receiver busy: try again")
		return
	}

	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.Reset()
	if status, err := r.read(w, req, gz, buf); err != nil {
		r.log.Debug("otlp traces: refused a request", "status", status, "err", err)
		r.fail(w, enc, status, rpcInvalidArgument, err.Error())
		return
	}
	b, status, err := r.decode(buf.Bytes(), enc)
	if err != nil {
		r.log.Debug("otlp traces: refused a request body", "status", status, "err", err)
		r.fail(w, enc, status, rpcInvalidArgument, truncate(err.Error(), 512))
		return
	}
	for env, spans := range b.spans {
		if len(spans) > 0 {
			r.rings[env].add(spans)
		}
	}
	t := &b.tally
	resp := ptraceotlp.NewExportResponse()
	if n := t.rejected(); n > 0 {
		r.rejected.Add(int64(n))
		msg := t.message(r.cfg.Attribute, r.known)
		r.log.Debug("otlp traces: rejected spans", "rejected", n, "accepted", t.accepted, "reason", msg)
		resp.PartialSuccess().SetRejectedSpans(int64(n))
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	var body []byte
	if enc == encJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil { // cannot happen for a response we built; say so rather than send nothing
		r.log.Error("otlp traces: encoding a response", "err", err)
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// authorized checks an Authorization header against the token; given says a bearer token was
// sent at all. Both sides are hashed first, so the comparison takes the same time whatever the
// length of what was sent and wherever it first differs.
func (r *Receiver) authorized(header string) (ok, given bool) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return false, false
	}
	sum := sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(sum[:], r.token[:]) == 1, true
}

// refuse answers a request without the right token: 401 (not retryable, so the exporter drops
// the batch rather than retrying it forever), counted for the source's warnings. The first
// refusal is logged as a warning, the others at debug level, so a flood cannot flood the log;
// what was sent is never logged.
func (r *Receiver) refuse(w http.ResponseWriter, req *http.Request, enc encoding, given bool) {
	n := r.refused.Add(1)
	msg, challenge := "missing bearer token", `Bearer realm="otlp"`
	if given {
		msg, challenge = "wrong bearer token", `Bearer realm="otlp", error="invalid_token"`
	}
	level := slog.LevelDebug
	if n == 1 {
		level = slog.LevelWarn
	}
	r.log.Log(req.Context(), level, "otlp traces: refused a request: "+msg+" (give the apps OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)",
		"remote", req.RemoteAddr, "refused", n)
	w.Header().Set("WWW-Authenticate", challenge)
	r.fail(w, enc, http.StatusUnauthorized, rpcUnauthenticated, msg)
}

// encodingOf reads a Content-Type header, ignoring parameters and case.
func encodingOf(contentType string) encoding {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case strings.EqualFold(mt, contentProto), strings.EqualFold(mt, "application/protobuf"):
		return encProto
	case strings.EqualFold(mt, contentJSON):
		return encJSON
	}
	return encUnknown
}

func (e encoding) contentType() string {
	if e == encJSON {
		return contentJSON
	}
	return contentProto
}

// gzipped reads a Content-Encoding header: gzip, identity or none.
func gzipped(contentEncoding string) (gz, ok bool) {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
		return false, true
	case "gzip", "x-gzip":
		return true, true
	}
	return false, false
}

var (
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool sync.Pool // *gzip.Reader
)

// maxPooledBuf keeps one unusually large request from pinning its buffer in the pool.
const maxPooledBuf = 4 << 20

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		bufPool.Put(b)
	}
}

// read copies the request body, decompressed, into buf. The cap applies to the bytes on the
// wire and again to the decompressed bytes, so a gzip bomb costs at most MaxBodyBytes.
func (r *Receiver) read(w http.ResponseWriter, req *http.Request, gz bool, buf *bytes.Buffer) (int, error) {
	limit := r.cfg.MaxBodyBytes
	if req.ContentLength > limit {
		return r.tooLarge()
	}
	var src io.Reader = http.MaxBytesReader(w, req.Body, limit)
	if gz {
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(src)
		} else {
			err = zr.Reset(src)
		}
		if err != nil {
			return r.readError(err)
		}
		defer gzipPool.Put(zr)
		src = zr
	} else if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(src, limit+1)); err != nil {
		return r.readError(err)
	}
	if int64(buf.Len()) > limit {
		return r.tooLarge()
	}
	return http.StatusOK, nil
}

func (r *Receiver) tooLarge() (int, error) {
	return http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", r.cfg.MaxBodyBytes)
}

// readError maps a read error to 413 when the wire cap was hit, else 400.
func (r *Receiver) readError(err error) (int, error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return r.tooLarge()
	}
	return http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)
}

// decode reads an export request into records. Its decoders are fed by anyone who can reach
// the port: a panic in one becomes a 400 for that request, not a crash of the analysis.
func (r *Receiver) decode(body []byte, enc encoding) (b *batch, status int, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("otlp traces: decoder panicked on a request body", "panic", fmt.Sprint(p), "bytes", len(body))
			b, status, err = nil, http.StatusBadRequest, errors.New("malformed request body")
		}
	}()
	b = r.newBatch()
	if enc == encProto {
		if err := b.addProto(body); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("malformed protobuf body: %w", err)
		}
		return b, http.StatusOK, nil
	}
	if status, err := b.addJSON(body); err != nil {
		return nil, status, err
	}
	return b, http.StatusOK, nil
}

// fail writes an error response: a google.rpc.Status in the request's encoding, or plain text
// when the encoding is unknown.
func (r *Receiver) fail(w http.ResponseWriter, enc encoding, status int, code int32, msg string) {
	var body []byte
	switch enc {
	case encProto:
		body = statusProto(code, msg)
	case encJSON:
		body, _ = json.Marshal(struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{code, msg})
	default:
		body = []byte(msg + "\n")
	}
	ct := "text/plain; charset=utf-8"
	if enc != encUnknown {
		ct = enc.contentType()
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusProto encodes google.rpc.Status{code, message} (fields 1 and 2) without a protobuf
// library.
func statusProto(code int32, msg string) []byte {
	b := make([]byte, 0, len(msg)+16)
	if code != 0 {
		b = append(b, 0x08)
		b = binary.AppendUvarint(b, uint64(code))
	}
	if msg != "" {
		b = append(b, 0x12)
		b = binary.AppendUvarint(b, uint64(len(msg)))
		b = append(b, msg...)
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(cutTo([]byte(s), n)) + "…"
}

// noteUnknown logs each unknown attribute value once (up to a bound): the usual cause is a
// Values map that misses the version just deployed, and one line says so.
func (r *Receiver) noteUnknown(val string) {
	r.unknownMu.Lock()
	_, seen := r.unknownSeen[val]
	full := len(r.unknownSeen) >= maxUnknownWarned
	if !seen && !full {
		r.unknownSeen[val] = struct{}{}
	}
	r.unknownMu.Unlock()
	if !seen && !full {
		r.log.Warn("otlp traces: rejecting spans of an unknown environment", "attribute", r.cfg.Attribute,
			"value", quotable(val), "known", strings.Join(r.known, ", "))
	}
}

// Stats is a snapshot of what the receiver holds and has turned away.
type Stats struct {
	Environments map[string]EnvStats
	Rejected     int64 // spans rejected since start (reported in partial_success)
	Refused      int64 // requests refused since start for a missing or wrong bearer token
	Names        int   // distinct operation and service names interned
}

// EnvStats is one environment's part of Stats.
type EnvStats struct {
	Held     int   // spans in the ring now (≤ MaxSpans)
	Accepted int64 // spans accepted since start
	Evicted  int64 // spans dropped to make room
}

// Stats returns a snapshot of the receiver's counters, e.g. for /metrics.
func (r *Receiver) Stats() Stats {
	s := Stats{Environments: make(map[string]EnvStats, len(r.envs)), Rejected: r.rejected.Load(), Refused: r.refused.Load(),
		Names: len(r.names.snapshot())}
	for i, env := range r.envs {
		g := r.rings[i].stats()
		s.Environments[env] = EnvStats{Held: g.held, Accepted: g.accepted, Evicted: g.evicted}
	}
	return s
}
