package smoke

import (
	"crypto/tls"
	"net/http/httptrace"
	"sync"
	"time"
)

// phases times one attempt of an http step through net/http/httptrace.
//
// Its latency runs from the request written to the response body read: what two environments
// are compared on is what they served, not what the prober did before asking. Building the
// request, waiting for a pooled connection, dialling and the TLS handshake are left out (the
// last two are kept apart as connect and tls). With followRedirects, every hop counts from its
// request written to its first response byte, and the final one to its body read.
type phases struct {
	now func() time.Time

	// The transport calls back from its own goroutines; a dial may even end after Do returned.
	mu                     sync.Mutex
	connectStart, tlsStart time.Time
	connect, tls           time.Duration
	hop                    hop           // the request in flight
	earlier                time.Duration // server time of the hops before it (redirects)
}

// hop is one request of an attempt: the first, or one a redirect or a retry on a dead kept-alive
// connection sends.
type hop struct {
	gotConn, wrote, firstByte time.Time
}

// sent is when the hop's request was on the wire. WroteRequest is called by the transport's write
// goroutine after its flush, so on a busy machine it can be late, even after the response's first
// byte; the moment the connection was handed over is then the better bound.
func (h *hop) sent() time.Time {
	if h.wrote.IsZero() || (!h.firstByte.IsZero() && h.wrote.After(h.firstByte)) {
		return h.gotConn
	}
	return h.wrote
}

func (p *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if h := p.hop; !h.firstByte.IsZero() && !h.sent().IsZero() {
				p.earlier += h.firstByte.Sub(h.sent())
			}
			p.hop = hop{gotConn: p.now()}
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if info.Err == nil {
				p.hop.wrote = p.now()
			}
		},
		GotFirstResponseByte: func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.hop.firstByte = p.now()
		},
		ConnectStart: func(string, string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.connectStart.IsZero() { // the first of parallel dials (IPv4 and IPv6)
				p.connectStart = p.now()
			}
		},
		ConnectDone: func(_, _ string, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err == nil && !p.connectStart.IsZero() {
				p.connect += p.now().Sub(p.connectStart)
				p.connectStart = time.Time{}
			}
		},
		TLSHandshakeStart: func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.tlsStart = p.now()
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if !p.tlsStart.IsZero() {
				p.tls += p.now().Sub(p.tlsStart)
				p.tlsStart = time.Time{}
			}
		},
	}
}

// latency is the attempt's response time once its body was read at end; start bounds it should
// the transport not have reported the request at all.
func (p *phases) latency(start, end time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent := p.hop.sent()
	if sent.IsZero() || sent.Before(start) {
		sent = start
	}
	return p.earlier + max(0, end.Sub(sent))
}

// setup returns the time spent dialling and in TLS handshakes so far (0 on a kept-alive
// connection).
func (p *phases) setup() (connect, tlsHandshake time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connect, p.tls
}
