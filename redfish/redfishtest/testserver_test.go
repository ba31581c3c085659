package redfishtest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// get GETs url with c (Basic credentials when auth) and returns the status
// and body.
func get(t *testing.T, c *http.Client, url string, auth bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(redfishmock.DefaultUser, redfishmock.DefaultPassword)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, b
}

func embeddedTree(t *testing.T) *redfishmock.Tree {
	t.Helper()
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestNewServer(t *testing.T) {
	ts := NewServer(embeddedTree(t))
	defer ts.Close()
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") || ts.CertPEM != nil {
		t.Fatalf("URL %s, CertPEM %v", ts.URL, ts.CertPEM != nil)
	}
	if code, body := get(t, ts.Client(), ts.URL+"/redfish/v1/Chassis", true); code != http.StatusOK {
		t.Errorf("GET Chassis: %d\n%s", code, body)
	}
	if ts.Mock.Requests() != 1 {
		t.Errorf("Mock.Requests() = %d, want 1", ts.Mock.Requests())
	}
	if _, err := ts.CAFile(t.TempDir()); err == nil {
		t.Error("CAFile on a plain HTTP server succeeded")
	}
}

func TestNewTLSServer(t *testing.T) {
	ts := NewTLSServer(embeddedTree(t))
	defer ts.Close()
	if !strings.HasPrefix(ts.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", ts.URL)
	}
	if code, body := get(t, ts.Client(), ts.URL+"/redfish/v1/Chassis", true); code != http.StatusOK {
		t.Errorf("GET Chassis: %d\n%s", code, body)
	}

	caFile, err := ts.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer fresh.CloseIdleConnections()
	if code, _ := get(t, fresh, ts.URL+"/redfish/v1", false); code != http.StatusOK {
		t.Errorf("client trusting the CA file: %d", code)
	}
	untrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := untrusting.Get(ts.URL + "/redfish/v1"); err == nil {
		t.Error("a client not trusting the certificate connected")
	}
}
