//go:build !race

package hostiletest

// RaceEnabled reports whether the race detector is on (see race_on.go).
const RaceEnabled = false
