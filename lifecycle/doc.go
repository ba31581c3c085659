// Package lifecycle answers the hardware team's question "which parts are
// old or worn enough to replace before they fail, and what do we order
// this quarter?" (docs/lifecycle.md).
//
// A Builder takes scans (model.Snapshot) one at a time and keeps one
// compact row per part: its identity (model, serial, part number,
// firmware, location), its age from the best source available (a drive's
// power-on hours, the manufacture date its BMC or FRU printed, or the
// date the agent first saw it), and its wear where known (an SSD's
// percentage used, growth of a disk's reallocated and pending sector
// counters, a fan's speed loss and a PSU's efficiency loss against their
// own earliest week of history). A refresh Policy, data in YAML with
// documented defaults (default-policy.yaml), says when each kind of part
// is due: now, within the rule's horizon (projecting its age and wear
// forward), or not.
//
// The Inventory a Builder returns has the rows, what to order by kind and
// model, and the firmware versions of each model across the fleet with
// their outliers; it writes itself as CSV (safe to open in a
// spreadsheet), JSON, or a table for a terminal.
//
// The package is pure: it reads no file, clock or network. History and
// first-seen dates come from the caller's functions (the CLI reads them
// from the agent's store), the time from the snapshots.
package lifecycle
