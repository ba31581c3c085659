package redfishtest

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// TestServer is a redfishmock.Server listening on a loopback port, like
// httptest.Server.
type TestServer struct {
	// URL is the base URL, "http://127.0.0.1:port" or "https://...".
	URL  string
	Mock *redfishmock.Server
	HTTP *httptest.Server
	// CertPEM is the self-signed certificate of a TLS server (nil for plain HTTP).
	CertPEM []byte
}

// NewServer starts a plain HTTP mock on 127.0.0.1. Close it when done.
func NewServer(tree *redfishmock.Tree, opts ...redfishmock.Option) *TestServer {
	m := redfishmock.New(tree, opts...)
	hs := httptest.NewUnstartedServer(m)
	hs.Config.ErrorLog = quietLog()
	hs.Start()
	return &TestServer{URL: hs.URL, Mock: m, HTTP: hs}
}

// NewTLSServer starts an HTTPS mock on 127.0.0.1 with a freshly generated
// self-signed certificate for 127.0.0.1, ::1 and localhost.
func NewTLSServer(tree *redfishmock.Tree, opts ...redfishmock.Option) *TestServer {
	m := redfishmock.New(tree, opts...)
	hs := httptest.NewUnstartedServer(m)
	// Clients that reject the certificate are expected in tests; their
	// handshake errors are not worth a line on stderr.
	hs.Config.ErrorLog = quietLog()
	ts := &TestServer{Mock: m, HTTP: hs}
	cert, certPEM, err := redfishmock.SelfSignedCert("127.0.0.1", "::1", "localhost")
	if err != nil {
		// Key generation from crypto/rand does not fail in practice; fall
		// back to httptest's built-in certificate rather than panic.
		hs.StartTLS()
		ts.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	} else {
		hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		hs.StartTLS()
		ts.CertPEM = certPEM
	}
	ts.URL = hs.URL
	return ts
}

// Close shuts the server down, waiting for in-flight requests.
func (ts *TestServer) Close() { ts.HTTP.Close() }

// Client returns an HTTP client for the server; for TLS it trusts the
// self-signed certificate.
func (ts *TestServer) Client() *http.Client { return ts.HTTP.Client() }

// CAFile writes the server's certificate as PEM into dir and returns the
// file's path, for clients configured with a CA file.
func (ts *TestServer) CAFile(dir string) (string, error) {
	if ts.CertPEM == nil {
		return "", errors.New("redfishtest: CAFile: not a TLS server")
	}
	name := filepath.Join(dir, "prefail-mock-ca.pem")
	if err := os.WriteFile(name, ts.CertPEM, 0o644); err != nil {
		return "", fmt.Errorf("redfishtest: CAFile: %w", err)
	}
	return name, nil
}

// quietLog discards net/http's own error lines.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
