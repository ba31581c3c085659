//go:build race

package main

// raceEnabled: the race detector slows compress/flate about twentyfold,
// so tests that read the 2018 set gunzip it with the system's gzip.
const raceEnabled = true
