package traces

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Receiver is an OTLP/HTTP trace receiver and the span store behind it, shared by any number
// of analyses: each takes a View that maps its environments onto keys (an attribute and its
// values), and spans are stored by key. Spans of keys no open view wants are rejected. It is safe
// for concurrent use: ServeHTTP, View, Close and every view's queries may run at the same time.
type Receiver struct {
	cfg Config
	log *slog.Logger

	// token is the SHA-256 of Config.Token: the token itself is not kept, so no log or dump of
	// the receiver can show it. auth says there is one.
	token [sha256.Size]byte
	auth  bool

	rejected atomic.Int64
	refused  atomic.Int64  // requests refused for a missing or wrong bearer token
	slots    chan struct{} // requests being read and decoded

	mu     sync.Mutex
	views  map[*View]struct{}
	stores map[Key]*keyStore // the keys the open views want
	routes atomic.Pointer[routes]

	unknownMu   sync.Mutex
	unknownSeen map[Key]struct{} // values already warned about, bounded
}

// maxUnknownWarned bounds the distinct unknown attribute values logged once each.
const maxUnknownWarned = 64

// NewReceiver validates cfg, applies its defaults and returns a receiver without views: it
// rejects every span until one opens. A nil logger discards.
func NewReceiver(cfg Config, logger *slog.Logger) (*Receiver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		cfg:         cfg,
		log:         logger,
		views:       map[*View]struct{}{},
		stores:      map[Key]*keyStore{},
		unknownSeen: map[Key]struct{}{},
		slots:       make(chan struct{}, cfg.MaxConcurrentRequests),
	}
	if cfg.Token != "" {
		r.token, r.auth = sha256.Sum256([]byte(cfg.Token.Reveal())), true
	}
	r.cfg.Token = "" // kept as its digest only
	r.mu.Lock()
	r.rebuild()
	r.mu.Unlock()
	return r, nil
}

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
// rejected_spans and a message when some spans belong to no key an open view wants); 401 with
// WWW-Authenticate when a token is required (the receiver's or an open view's) and the request
// does not carry one as "Authorization: Bearer <token>", 400 for malformed bodies, 405 for other methods, 413
// oversize, 415 unknown content type or encoding, 503 with Retry-After when the request gave
// up waiting for a free slot. Responses use the request's encoding (protobuf or JSON); errors
// carry a google.rpc.Status as OTLP asks. It does not look at the path: mount it at /v1/traces.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	enc := encodingOf(req.Header.Get("Content-Type"))
	// One routing table for the whole request, however views come and go meanwhile.
	rt := r.routes.Load()
	// Before anything else, so that a sender without the token costs no slot and no read.
	if rt.auth {
		if ok, given := authorized(req.Header.Get("Authorization"), rt.tokens); !ok {
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
	b, status, err := r.decode(buf.Bytes(), enc, rt)
	if err != nil {
		r.log.Debug("otlp traces: refused a request body", "status", status, "err", err)
		r.fail(w, enc, status, rpcInvalidArgument, truncate(err.Error(), 512))
		return
	}
	for _, kb := range b.keys {
		if len(kb.spans) > 0 {
			kb.ks.ring.add(kb.spans)
		}
	}
	t := &b.tally
	resp := ptraceotlp.NewExportResponse()
	if n := t.rejected(); n > 0 {
		r.rejected.Add(int64(n))
		msg := t.message(rt)
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
func (r *Receiver) decode(body []byte, enc encoding, rt *routes) (b *batch, status int, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("otlp traces: decoder panicked on a request body", "panic", fmt.Sprint(p), "bytes", len(body))
			b, status, err = nil, http.StatusBadRequest, errors.New("malformed request body")
		}
	}()
	b = r.newBatch(rt)
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

// noteUnknown logs each unknown attribute value once (up to a bound): the usual cause is an
// analysis whose values miss the version just deployed, and one line says so.
func (r *Receiver) noteUnknown(rt *routes, attr, val string) {
	k := Key{attr, val}
	r.unknownMu.Lock()
	_, seen := r.unknownSeen[k]
	full := len(r.unknownSeen) >= maxUnknownWarned
	if !seen && !full {
		r.unknownSeen[k] = struct{}{}
	}
	r.unknownMu.Unlock()
	if !seen && !full {
		r.log.Warn("otlp traces: rejecting spans of an unknown environment", "attribute", attr,
			"value", quotable(val), "known", rt.known)
	}
}

// Stats is a snapshot of what the receiver holds and has turned away.
type Stats struct {
	Keys     map[Key]EnvStats // the spans of each key an open view wants
	Views    int              // open views
	Rejected int64            // spans rejected since start (reported in partial_success)
	Refused  int64            // requests refused since start for a missing or wrong bearer token
}

// Stats returns a snapshot of the receiver's counters, e.g. for /metrics.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	stores := make([]*keyStore, 0, len(r.stores))
	for _, ks := range r.stores {
		stores = append(stores, ks)
	}
	s := Stats{Keys: make(map[Key]EnvStats, len(stores)), Views: len(r.views), Rejected: r.rejected.Load(), Refused: r.refused.Load()}
	r.mu.Unlock()
	for _, ks := range stores {
		g := ks.ring.stats()
		s.Keys[ks.key] = EnvStats{Held: g.held, Accepted: g.accepted, Evicted: g.evicted}
	}
	return s
}
