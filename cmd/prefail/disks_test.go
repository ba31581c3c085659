package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefail/prefail/model"
)

const (
	healthyCapture = "../../testdata/smart/json/smartctl_exporter/sat-Seagate_Exos_7E8-ST1000NM000A-2J3100-sdq.json"
	failingCapture = "../../testdata/smart/json/smartctl_exporter/nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json"
	failingText    = "../../testdata/smart/linuxhw/SSD/Samsung/MZ7/MZ7LN512HMJP-00000/C0423308D828"
)

// runApp runs the CLI with stdin and returns stdout and the error.
func runApp(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(nil), stdin: strings.NewReader(stdin)}
	err := a.run(context.Background(), args)
	return stdout.String(), err
}

func TestScanSmartctlCaptures(t *testing.T) {
	out, err := runApp(t, "", "scan", "--json-document", "--smartctl", healthyCapture, failingCapture, failingText)
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	r := decodeReport(t, []byte(out))
	if len(r.Targets) != 3 {
		t.Fatalf("%d targets, want 3", len(r.Targets))
	}
	want := []model.Health{model.HealthOK, model.HealthCritical, model.HealthCritical}
	for i, tg := range r.Targets {
		if !strings.HasPrefix(tg.Target, "smartctl:") || tg.Snapshot == nil || len(tg.Snapshot.Components) != 1 {
			t.Fatalf("target %d: %+v", i, tg)
		}
		c := tg.Snapshot.Components[0]
		if c.Kind != model.KindDrive || c.Health != want[i] {
			t.Errorf("%s: %s %s, want drive %s", tg.Target, c.Kind, c.Health, want[i])
		}
	}
	if c := r.Targets[0].Snapshot.Components[0]; c.Inventory.SerialNumber == "" || c.ID != c.Inventory.SerialNumber {
		t.Errorf("a drive is identified by its serial: id %q serial %q", c.ID, c.Inventory.SerialNumber)
	}
}

func TestScanSmartctlStdinAndTable(t *testing.T) {
	data, err := os.ReadFile(failingText)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runApp(t, string(data), "scan", "--smartctl", "-")
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	if !strings.Contains(out, "smartctl:-") || !strings.Contains(out, "critical") {
		t.Errorf("table does not show the failing drive read from stdin:\n%s", out)
	}
}

func TestScanSmartctlBadInput(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "not-smartctl.txt")
	if err := os.WriteFile(garbage, []byte("hello\nworld\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// One bad file fails its own target only; the good one is still read.
	out, err := runApp(t, "", "scan", "--json-document", "--smartctl", garbage, healthyCapture)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	r := decodeReport(t, []byte(out))
	if len(r.Targets) != 2 || !strings.Contains(r.Targets[0].Error, garbage) || r.Targets[1].Error != "" || r.Targets[1].Snapshot == nil {
		t.Errorf("targets: %+v", r.Targets)
	}
	for _, args := range [][]string{
		{"scan", "--smartctl"},
		{"scan", "--smartctl", "/nonexistent/capture.json"},
		{"scan", "--smartctl-exec", " "},
	} {
		if _, err := runApp(t, "", args...); exitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

// --smartctl-exec runs smartctl with --json -x and the given arguments;
// a fake smartctl records them and answers with a capture and the exit
// status bits of a failing disk (8: SMART status failing), which is not an
// error of the scan.
func TestScanSmartctlExec(t *testing.T) {
	dir := t.TempDir()
	capture, err := filepath.Abs(failingCapture)
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "smartctl")
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args") + "\ncat '" + capture + "'\nexit 8\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runApp(t, "", "scan", "--json-document", "--smartctl-path", fake, "--smartctl-exec", "-d megaraid,3 /dev/sda")
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, out)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if got := strings.TrimSpace(string(args)); got != "--json=c -x -d megaraid,3 /dev/sda" {
		t.Errorf("smartctl ran with %q", got)
	}
	r := decodeReport(t, []byte(out))
	if len(r.Targets) != 1 || r.Targets[0].Snapshot == nil || r.Targets[0].Snapshot.Components[0].Health != model.HealthCritical {
		t.Errorf("targets: %+v", r.Targets)
	}
}
