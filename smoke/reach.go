package smoke

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// unreachable names why a request never reached the environment's application — the
// connection could not be made (refused, no such host, TLS handshake failed, reset, no route)
// — or returns "" for any other failure (a timeout waiting for the answer, a bad template).
// It lets an analysis say "blue unreachable: connection refused" instead of a bare error rate.
func unreachable(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "DNS: no such host " + dnsErr.Name
		}
		return "DNS: " + dnsErr.Err
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return "TLS: certificate not trusted"
	case errors.As(err, &recordErr), errors.As(err, &alert):
		return "TLS: handshake failed"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Timeout() {
			return "timed out connecting"
		}
		return "cannot connect"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS: the server answered in plain HTTP"
	case strings.Contains(err.Error(), "tls: "):
		return "TLS: handshake failed"
	}
	return ""
}
