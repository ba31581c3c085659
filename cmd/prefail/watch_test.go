package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefail/prefail/ipmi/ipmisim"
)

// watch prints one event when a drive is first seen failing, keeps its
// state across a restart, and does not raise the same alarm again.
func TestWatchStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
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

// The agent end to end over IPMI: `prefail watch` against ipmi_sim (the
// realserver board), healthy for two rounds, then PSU 1's predictive
// failure state asserted on the simulated BMC (Power Supply sensor, IPMI
// v2.0 Table 42-3 offset 02h, which also logs a SEL record): after a
// restart from the saved state the next rounds raise one warning for that
// PSU, with the reason, and nothing for the rest of the board.
func TestWatchIPMIPredictiveFailure(t *testing.T) {
	s := ipmisim.StartT(t, "../../testdata/ipmi/boards/realserver")
	env := map[string]string{envUsername: ipmisim.Username, envPassword: ipmisim.Password}
	state := filepath.Join(t.TempDir(), "state.db")
	args := []string{"watch", "--interval", "10ms", "--rounds", "2", "--state", state, "--sdr-cache", t.TempDir(), "ipmi://" + s.Addr()}
	watch := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(env)}
		if err := a.run(context.Background(), args); err != nil {
			t.Fatalf("watch: %v\n%s", err, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), ipmisim.Password) {
			t.Error("the password appears in the output")
		}
		return strings.TrimSpace(stdout.String())
	}
	if out := watch(); out != "" {
		t.Fatalf("events on the healthy board:\n%s", out)
	}
	if _, err := s.Console(context.Background(), "sensor_set_bit 0x20 0 130 2 1 1"); err != nil {
		t.Fatal(err)
	}
	out := watch()
	lines := strings.Split(out, "\n")
	if len(lines) != 1 {
		t.Fatalf("%d events, want 1 (PSU 1, once):\n%s", len(lines), out)
	}
	var ev struct {
		Type, Severity, State string
		Component             struct{ Kind, Name string }
		Reasons               []struct{ Signal, Text string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "raised" || ev.Severity != "warning" || ev.Component.Kind != "psu" || ev.Component.Name != "PSU 1 AC Status" ||
		len(ev.Reasons) == 0 || !strings.Contains(strings.ToLower(ev.Reasons[0].Text), "predictive failure") {
		t.Errorf("event %+v", ev)
	}
}
