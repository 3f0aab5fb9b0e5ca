package memnet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
)

// A real server and client over the network, in a bubble: the handler's sleep is the request's
// whole duration, to the nanosecond, and the connection is kept alive between requests.
func TestServeInBubbleIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		var remotes []string
		url := n.Serve(t, "blue.test:80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			remotes = append(remotes, r.RemoteAddr)
			time.Sleep(30 * time.Millisecond)
			_, _ = io.WriteString(w, "blue")
		}))
		assert.Equal(t, "http://blue.test:80", url)
		c := n.Client()
		for range 3 {
			start := time.Now()
			resp, err := c.Get(url + "/health")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, "blue", string(body))
			assert.Equal(t, 30*time.Millisecond, time.Since(start))
		}
		require.Len(t, remotes, 3)
		assert.Equal(t, remotes[0], remotes[2], "one kept-alive connection")
		c.CloseIdleConnections()
	})
}

func TestDialRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		ctx := t.Context()

		_, err := n.DialContext(ctx, "tcp", "nobody.test:80")
		assert.ErrorIs(t, err, syscall.ECONNREFUSED, "no listener: refused, as a socket would be")

		ln, err := n.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		tcp, ok := ln.Addr().(*net.TCPAddr)
		require.True(t, ok, "an IP listener has a TCP address: %T", ln.Addr())
		assert.True(t, tcp.IP.IsLoopback())
		assert.Positive(t, tcp.Port, "port 0 picks one")

		_, err = n.Listen("tcp", ln.Addr().String())
		assert.ErrorIs(t, err, syscall.EADDRINUSE)

		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			assert.NoError(t, err)
			accepted <- c
		}()
		c, err := n.DialContext(ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		s := <-accepted
		assert.Equal(t, ln.Addr(), s.LocalAddr())
		assert.Equal(t, ln.Addr(), c.RemoteAddr())
		go func() { _, _ = c.Write([]byte("ping")) }()
		buf := make([]byte, 4)
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		assert.Equal(t, "ping", string(buf))
		c.Close()
		s.Close()

		require.NoError(t, ln.Close())
		_, err = ln.Accept()
		assert.ErrorIs(t, err, net.ErrClosed)
		_, err = n.DialContext(ctx, "tcp", ln.Addr().String())
		assert.ErrorIs(t, err, syscall.ECONNREFUSED, "a closed listener refuses")

		_, err = n.Listen("udp", "127.0.0.1:53")
		assert.Error(t, err)
	})
}

// A listener on every host takes dials to any host at its port.
func TestWildcardListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		ln, err := n.Listen("tcp", ":4318")
		require.NoError(t, err)
		defer ln.Close()
		assert.False(t, ln.Addr().(*net.TCPAddr).IP.IsLoopback(), "every interface is not loopback")
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		c, err := n.DialContext(t.Context(), "tcp", "127.0.0.1:4318")
		require.NoError(t, err)
		c.Close()
	})
}

// A dial nobody accepts waits, in fake time, until its context ends.
func TestDialHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		ln, err := n.Listen("tcp", "green.test:80")
		require.NoError(t, err)
		defer ln.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = n.DialContext(ctx, "tcp", "green.test:80")
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Equal(t, time.Second, time.Since(start))
	})
}
