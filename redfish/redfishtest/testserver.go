package redfishtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"
)

// shutdownGrace bounds how long Serve waits for in-flight requests.
const shutdownGrace = 5 * time.Second

// TestServer is a Server listening on a loopback port, like httptest.Server.
type TestServer struct {
	// URL is the base URL, "http://127.0.0.1:port" or "https://...".
	URL  string
	Mock *Server
	HTTP *httptest.Server
	// CertPEM is the self-signed certificate of a TLS server (nil for plain HTTP).
	CertPEM []byte
}

// NewServer starts a plain HTTP mock on 127.0.0.1. Close it when done.
func NewServer(tree *Tree, opts ...Option) *TestServer {
	m := New(tree, opts...)
	hs := httptest.NewUnstartedServer(m)
	hs.Config.ErrorLog = quietLog()
	hs.Start()
	return &TestServer{URL: hs.URL, Mock: m, HTTP: hs}
}

// NewTLSServer starts an HTTPS mock on 127.0.0.1 with a freshly generated
// self-signed certificate for 127.0.0.1, ::1 and localhost.
func NewTLSServer(tree *Tree, opts ...Option) *TestServer {
	m := New(tree, opts...)
	hs := httptest.NewUnstartedServer(m)
	// Clients that reject the certificate are expected in tests; their
	// handshake errors are not worth a line on stderr.
	hs.Config.ErrorLog = quietLog()
	ts := &TestServer{Mock: m, HTTP: hs}
	cert, certPEM, err := SelfSignedCert("127.0.0.1", "::1", "localhost")
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

// Serve serves h on ln (over TLS when cert is not nil) until ctx is done,
// then shuts down gracefully and returns nil. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cert *tls.Certificate) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quietLog(),
	}
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	errc := make(chan error, 1)
	go func() {
		if cert != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("redfishtest: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("redfishtest: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("redfishtest: serve: %w", err)
	}
	return nil
}

// SelfSignedCert generates an ECDSA P-256 certificate valid for one year
// for hosts (IP addresses and DNS names), usable as its own CA. It returns
// the certificate with its key and the certificate as PEM.
func SelfSignedCert(hosts ...string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("redfishtest: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("redfishtest: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"prefail mock BMC"}, CommonName: "prefail-mock"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("redfishtest: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("redfishtest: parse certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, nil
}

// quietLog discards net/http's own error lines: library code logs nothing.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
