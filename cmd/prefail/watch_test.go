package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// watch prints one event when a drive is first seen failing, keeps its
// state across a restart, and does not raise the same alarm again.
func TestWatchStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"watch", "--interval", "10ms", "--rounds", "2", "--state", state, "--smartctl", failingCapture, healthyCapture}
	out, err := runApp(t, "", args...)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d events, want 1 (the failing drive, once):\n%s", len(lines), out)
	}
	var ev struct {
		Target    string `json:"target"`
		Type      string `json:"type"`
		Severity  string `json:"severity"`
		State     string `json:"state"`
		Component struct{ Kind, ID string }
		Reasons   []struct{ Signal, Text string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "raised" || ev.Severity != "critical" || ev.Component.Kind != "drive" || !strings.HasPrefix(ev.Target, "smartctl:") || len(ev.Reasons) == 0 {
		t.Errorf("event %+v", ev)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file: %v", err)
	}
	out, err = runApp(t, "", args...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("after a restart: %v, events:\n%s", err, out)
	}
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runApp(t, "", args...); err == nil || !strings.Contains(err.Error(), state) {
		t.Errorf("a corrupt state file: %v", err)
	}
}
