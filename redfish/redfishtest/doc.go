// Package redfishtest serves Redfish resource trees captured from real or
// DMTF mockup services over real HTTP(S), in the style of net/http/httptest,
// so Redfish clients can be tested without hardware.
//
// A Tree is loaded from a directory (DMTF mockup layout or flat capture
// files) or from the trees embedded in this package. A Server serves it with
// sessions, Basic auth, $expand, $top/$skip, injectable faults and
// scenarios that change served values over simulated time.
package redfishtest
