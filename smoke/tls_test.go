package smoke_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quietLog = log.New(io.Discard, "", 0)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(statusHandler())
	srv.Config.ErrorLog = quietLog // failed handshakes are the point of some cases
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pemBlock("CERTIFICATE", srv.Certificate().Raw)
	otherCA, _, _ := newCA(t, "unrelated CA")

	tests := []struct {
		name   string
		tls    string // YAML for defaults.tls, "" for none
		files  map[string][]byte
		status smoke.Status
		err    string
	}{
		{name: "caFile trusts the server", tls: "{caFile: ca.pem}", files: map[string][]byte{"ca.pem": ca}, status: smoke.Passed},
		{name: "no TLS config", status: smoke.Errored, err: "x509: certificate signed by unknown authority"},
		{name: "another CA", tls: "{caFile: other.pem}", files: map[string][]byte{"other.pem": otherCA}, status: smoke.Errored, err: "x509:"},
		{name: "insecure skips verification", tls: "{insecure: true}", status: smoke.Passed},
		// httptest's certificate names example.com as well as 127.0.0.1.
		{name: "serverName in the certificate", tls: "{caFile: ca.pem, serverName: example.com}", files: map[string][]byte{"ca.pem": ca}, status: smoke.Passed},
		{name: "serverName not in the certificate", tls: "{caFile: ca.pem, serverName: wrong.test}", files: map[string][]byte{"ca.pem": ca}, status: smoke.Errored, err: "x509: certificate is valid for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "steps:\n  - name: s\n    http: {url: /}\n    expect: [json.ok == true]\n"
			if tt.tls != "" {
				body = "defaults: {tls: " + tt.tls + "}\n" + body
			}
			res := runSuite(t, loadSuiteFile(t, body, tt.files), srv.URL)
			s := step(t, res, "s")
			require.Equal(t, tt.status, s.Status, dump(res))
			if tt.err == "" {
				assert.Empty(t, s.Err)
			} else {
				assert.Contains(t, s.Err, tt.err)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	clientCA, caCert, caKey := newCA(t, "client CA")
	certPEM, keyPEM := newClientCert(t, caCert, caKey)
	_, strangerCert, strangerKey := newCA(t, "stranger CA")
	strangerPEM, strangerKeyPEM := newClientCert(t, strangerCert, strangerKey)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(clientCA))
	var gotCN atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCN.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = quietLog
	srv.StartTLS()
	t.Cleanup(srv.Close)
	serverCA := pemBlock("CERTIFICATE", srv.Certificate().Raw)

	tests := []struct {
		name   string
		tls    string
		status smoke.Status
	}{
		{name: "with client certificate", tls: "{caFile: ca.pem, certFile: client.pem, keyFile: client-key.pem}", status: smoke.Passed},
		{name: "without client certificate", tls: "{caFile: ca.pem}", status: smoke.Errored},
		{name: "certificate from an untrusted CA", tls: "{caFile: ca.pem, certFile: stranger.pem, keyFile: stranger-key.pem}", status: smoke.Errored},
	}
	files := map[string][]byte{
		"ca.pem": serverCA, "client.pem": certPEM, "client-key.pem": keyPEM,
		"stranger.pem": strangerPEM, "stranger-key.pem": strangerKeyPEM,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotCN.Store("")
			body := "steps:\n  - name: s\n    http: {url: /, tls: " + tt.tls + "}\n    expect: [status == 200]\n"
			res := runSuite(t, loadSuiteFile(t, body, files), srv.URL)
			s := step(t, res, "s")
			require.Equal(t, tt.status, s.Status, dump(res))
			if tt.status == smoke.Passed {
				assert.Equal(t, "greenlight-client", gotCN.Load(), "client certificate the server saw")
			} else {
				assert.Contains(t, s.Err, "tls")
			}
		})
	}
}

// newCA returns a self-signed CA as PEM, plus its parsed certificate and key for signing.
func newCA(t *testing.T, name string) ([]byte, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return pemBlock("CERTIFICATE", der), cert, key
}

// newClientCert returns a client certificate signed by ca, and its key, as PEM.
func newClientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "greenlight-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)
}
