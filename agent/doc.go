// Package agent runs prefail over many targets and over time: it keeps a
// reader client per target (one Redfish session for the whole run, the
// IPMI SDR cache and SEL cursor), scans the targets concurrently within
// bounds, feeds each snapshot to the detector, commits the round (the
// detector's state, the readings, the events) to an embedded store in one
// transaction, and delivers the events from the store's outbox to the
// outputs, each event leaving the outbox only once its output confirmed
// it. Metrics are served for Prometheus.
//
// A Go program runs an agent with New and Run; the prefail command's
// scan, watch and agent subcommands run on this package.
package agent
