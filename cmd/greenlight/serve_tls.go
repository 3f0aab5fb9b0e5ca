package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// certReloader serves the certificate of --tls-cert and --tls-key, reading them again at the
// first handshake after either file changed (a renewal by cert-manager or certbot needs no
// restart). A pair that cannot be read keeps the one before in service, with a warning, until
// the files change again.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp [2]fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// newCertReloader reads the pair once: one that cannot be read is invalid input.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads the pair; c.mu is held or c is not shared yet.
func (c *certReloader) load() error {
	var stamp [2]fileStamp
	for i, f := range []struct{ flag, path string }{{"--tls-cert", c.certFile}, {"--tls-key", c.keyFile}} {
		s, err := stampOf(f.path)
		if err != nil {
			return fmt.Errorf("%s %s: %v", f.flag, f.path, describeOpenError(err))
		}
		stamp[i] = s
	}
	cert, err := specs.KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %v", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, stamp
	return nil
}

// GetCertificate is tls.Config's.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var now [2]fileStamp
	for i, f := range []string{c.certFile, c.keyFile} {
		now[i], _ = stampOf(f)
	}
	if now != c.stamp {
		old := c.cert
		if err := c.load(); err != nil {
			// Tried once per change of the files, not at every handshake.
			c.cert, c.stamp = old, now
			c.log.Warn("cannot read the renewed TLS certificate: serving the one before", "error", err)
		} else {
			c.log.Info("TLS certificate reloaded", "cert", c.certFile)
		}
	}
	return c.cert, nil
}

// tlsConfig is the listener's TLS configuration, or nil without --tls-cert.
func (st *serveSettings) tlsConfig(log *slog.Logger) (*tls.Config, error) {
	if st.tlsCert == "" && st.tlsKey == "" {
		return nil, nil
	}
	if st.tlsCert == "" || st.tlsKey == "" {
		return nil, invalid("give both --tls-cert and --tls-key, or neither")
	}
	c, err := newCertReloader(st.tlsCert, st.tlsKey, log)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12}, nil
}
