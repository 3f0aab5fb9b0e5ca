// Package memnet is an in-memory network for tests: listeners whose connections are the server
// ends of net.Pipe, and a dialer that routes by address ("blue.test:80") to them. Real
// http.Servers and http.Transports run over it inside a testing/synctest bubble, where the clock
// is fake and advances only when every goroutine is durably blocked — which a goroutine reading
// a pipe is, and one reading a socket is not. A handler that sleeps 30ms then takes exactly 30ms,
// however busy the machine.
//
// A Network, its listeners and every connection must be created and closed inside one bubble.
// It knows nothing of greenlight; it is for tests only.
package memnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Network routes dials to its listeners by address. The zero value is not usable; call New.
type Network struct {
	mu        sync.Mutex
	listeners map[string]*listener // by "host:port"; host "" listens on every host
	nextPort  int
	clients   int
}

// New returns an empty network.
func New() *Network {
	return &Network{listeners: map[string]*listener{}, nextPort: 40000}
}

// Listen listens on addr (host:port). Port 0 picks an unused port; an empty host, 0.0.0.0 or ::
// accepts dials to any host at that port. The network must be a TCP one.
func (n *Network) Listen(network, addr string) (net.Listener, error) {
	if err := checkNetwork("listen", network, addr); err != nil {
		return nil, err
	}
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if port == 0 {
		for {
			n.nextPort++
			if _, used := n.listeners[net.JoinHostPort(host, strconv.Itoa(n.nextPort))]; !used {
				break
			}
		}
		port = n.nextPort
	}
	key := net.JoinHostPort(host, strconv.Itoa(port))
	if _, used := n.listeners[key]; used {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("%s: %w", key, syscall.EADDRINUSE)}
	}
	l := &listener{n: n, key: key, addr: addrOf(host, port), conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[key] = l
	return l, nil
}

// DialContext connects to the listener at addr, as net.Dialer.DialContext does to a socket: a
// port nobody listens on refuses the connection (syscall.ECONNREFUSED).
func (n *Network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkNetwork("dial", network, addr); err != nil {
		return nil, err
	}
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	n.mu.Lock()
	l := n.listeners[addr]
	if l == nil {
		l = n.listeners[net.JoinHostPort("", strconv.Itoa(port))]
	}
	n.clients++
	from := addrOf("client.memnet", n.clients)
	n.mu.Unlock()
	refused := &net.OpError{Op: "dial", Net: network, Addr: addrOf(host, port), Err: syscall.ECONNREFUSED}
	if l == nil {
		return nil, refused
	}
	client, server := net.Pipe()
	select {
	case l.conns <- &conn{Conn: server, local: l.addr, remote: from}:
		return &conn{Conn: client, local: from, remote: l.addr}, nil
	case <-l.done:
		return nil, refused
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: network, Addr: l.addr, Err: ctx.Err()}
	}
}

// Serve serves h on addr until the test ends and returns its base URL ("http://addr"). The
// server is closed by a cleanup of t, which drops its connections and so also ends the client
// transports' goroutines reading them: inside a bubble nothing is left running.
func (n *Network) Serve(t testing.TB, addr string, h http.Handler) string {
	t.Helper()
	ln, err := n.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("memnet: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // http.ErrServerClosed once Close runs
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// Client returns an HTTP client whose connections go through the network.
func (n *Network) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.DialContext}}
}

func checkNetwork(op, network, addr string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return &net.OpError{Op: op, Net: network, Err: fmt.Errorf("memnet: %s %s: only tcp is supported", network, addr)}
}

func splitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("memnet: %q: invalid port", addr)
	}
	return host, port, nil
}

// addrOf is a listener's or a client's address: a *net.TCPAddr when the host is an IP (or none),
// so that code judging a bound address (loopback or not) sees what a socket would give it.
func addrOf(host string, port int) net.Addr {
	if host == "" {
		return &net.TCPAddr{Port: port}
	}
	if ip := net.ParseIP(host); ip != nil {
		return &net.TCPAddr{IP: ip, Port: port}
	}
	return Addr(net.JoinHostPort(host, strconv.Itoa(port)))
}

// Addr is the address of a listener on a host name, such as blue.test:80.
type Addr string

func (Addr) Network() string  { return "tcp" }
func (a Addr) String() string { return string(a) }

type listener struct {
	n     *Network
	key   string
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops accepting; later dials to its address are refused, and its port is free again.
func (l *listener) Close() error {
	err := error(&net.OpError{Op: "close", Net: "tcp", Addr: l.addr, Err: net.ErrClosed})
	l.once.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		delete(l.n.listeners, l.key)
		l.n.mu.Unlock()
		err = nil
	})
	return err
}

func (l *listener) Addr() net.Addr { return l.addr }

// conn is one end of a pipe with the addresses of the two ends, rather than net.Pipe's "pipe".
type conn struct {
	net.Conn
	local, remote net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }
