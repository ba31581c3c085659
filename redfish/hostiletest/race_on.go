//go:build race

package hostiletest

// RaceEnabled reports whether the race detector is on: it slows the
// reader's JSON decoding several times over, so the cases that make the
// reader decode megabytes get their RaceDeadline.
const RaceEnabled = true
