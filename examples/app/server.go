package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an App listening on a loopback port, for tests and the demo.
type Server struct {
	// URL is the base URL, such as "http://127.0.0.1:41234", without a
	// trailing slash.
	URL string
	// App is the handler being served, so a caller can change its faults
	// directly instead of through PUT /admin/faults.
	App *App

	srv       *http.Server
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start serves New(cfg) on 127.0.0.1 at a free port until ctx is done or
// Close is called. Every request's context derives from ctx, so cancelling
// it also cuts short requests in flight (a /slow or an injected latency).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a := New(cfg)
	s := &Server{
		URL: "http://" + ln.Addr().String(),
		App: a,
		srv: &http.Server{
			Handler:           a,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // always http.ErrServerClosed once Close runs
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Close stops the server at once, dropping open connections, and waits
// until it no longer accepts any. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		<-s.done
		if s.App != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.App.Close(ctx)
		}
	})
	return s.closeErr
}

// Done is closed once the server has stopped serving, whether through
// Close or the end of the context given to Start.
func (s *Server) Done() <-chan struct{} { return s.done }
