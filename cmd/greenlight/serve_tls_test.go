package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSigned(t *testing.T, certFile, keyFile string, serial int64) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "greenlight test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	// Written beside and renamed, as a renewal tool does: never a half-written file.
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		require.NoError(t, os.WriteFile(path+".new", pem.EncodeToMemory(block), 0o600))
		require.NoError(t, os.Rename(path+".new", path))
	}
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func tlsClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
}

// TestServeTLS serves HTTPS and picks up a renewed certificate without a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSigned(t, certFile, keyFile, 1)
	s := startServe(t, "--config", specDir(t, serveSpecs), "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	require.Regexp(t, `^https://127\.0\.0\.1:\d+$`, s.url)
	resp, err := tlsClient(first).Get(s.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	second := selfSigned(t, certFile, keyFile, 2)
	resp, err = tlsClient(second).Get(s.url + "/healthz")
	require.NoError(t, err, "the renewed certificate is served")
	resp.Body.Close()
	_, err = tlsClient(first).Get(s.url + "/healthz")
	assert.Error(t, err, "the old one is not")

	// A renewal that cannot be read keeps the certificate before.
	require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600))
	resp, err = tlsClient(second).Get(s.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, s.waitLog(t, "cannot read the renewed TLS certificate"), "serving the one before")
	assert.Equal(t, verdict.ExitPass, s.stop(t))
}

func TestServeTLSInvalid(t *testing.T) {
	dir := t.TempDir()
	certFile := filepath.Join(dir, "tls.crt")
	require.NoError(t, os.WriteFile(certFile, []byte("junk"), 0o600))
	for _, args := range [][]string{
		{"--tls-cert", certFile},
		{"--tls-cert", certFile, "--tls-key", filepath.Join(dir, "missing.key")},
		{"--tls-cert", certFile, "--tls-key", certFile},
	} {
		code, _, errOut := cli(t, append([]string{"serve", "--config", specDir(t, serveSpecs), "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
		assert.Equal(t, verdict.ExitInvalid, code, errOut)
		assert.Contains(t, errOut, "tls")
	}
}
