// Package redfishmock serves Redfish resource trees captured from real or
// DMTF mockup services over real HTTP(S), so Redfish clients can be run and
// tested without hardware: "prefail mock", "prefail demo" and "prefail
// replay --scenario" serve it, and the tests of the reader start it through
// the httptest-style helpers of redfish/redfishtest.
//
// A Tree is loaded from a directory (DMTF mockup layout or flat capture
// files) or from the trees embedded in this package. A Server serves it with
// sessions, Basic auth, $expand, $top/$skip, injectable faults and
// scenarios that change served values over simulated time. Serve runs it on
// a listener (over TLS with a certificate from SelfSignedCert).
package redfishmock
