// Package redfishtest starts the Redfish mock of redfish/redfishmock on a
// loopback port for tests, in the style of net/http/httptest: NewServer and
// NewTLSServer return a TestServer with its URL, the mock (for request
// counts and the scenario clock) and a client that trusts its certificate.
package redfishtest
