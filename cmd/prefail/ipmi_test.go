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

// TestScanIPMI runs `prefail scan --json-document ipmi://...` against the simulated
// failing board, credentials from the environment.
func TestScanIPMI(t *testing.T) {
	s := ipmisim.StartT(t, "../../testdata/ipmi/boards/failing")
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: envFrom(map[string]string{
		envUsername: ipmisim.Username, envPassword: ipmisim.Password,
	})}
	target := "ipmi://" + s.Addr()
	err := a.run(context.Background(), []string{"scan", "--json-document", "--sdr-cache", t.TempDir(), target})
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Targets []struct {
			Target   string `json:"target"`
			Worst    string `json:"worst"`
			Snapshot struct {
				Components []struct{ Name, Health string } `json:"components"`
				Events     []json.RawMessage               `json:"events"`
				Requests   int                             `json:"requests"`
			} `json:"snapshot"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Targets) != 1 {
		t.Fatalf("%d targets", len(doc.Targets))
	}
	got := doc.Targets[0]
	if got.Target != target || got.Worst != "critical" || got.Snapshot.Requests == 0 || len(got.Snapshot.Events) == 0 {
		t.Errorf("target %s worst %s requests %d events %d", got.Target, got.Worst, got.Snapshot.Requests, len(got.Snapshot.Events))
	}
	health := map[string]string{}
	for _, c := range got.Snapshot.Components {
		health[c.Name] = c.Health
	}
	if health["PSU2 Status"] != "critical" || health["PSU4 Status"] != "absent" {
		t.Errorf("health %v", health)
	}
	if strings.Contains(stdout.String()+stderr.String(), ipmisim.Password) {
		t.Error("the password appears in the output")
	}
}

func TestTargetsFileIPMISettings(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(f, []byte("ipmi://10.0.0.7 interface=lan cipher-suite=17\nipmi://10.0.0.8:624\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, err := parseTargetsFile(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Endpoint != "ipmi://10.0.0.7" || ts[0].Interface != "lan" || ts[0].CipherSuite == nil || *ts[0].CipherSuite != 17 || ts[1].Endpoint != "ipmi://10.0.0.8:624" {
		t.Errorf("parsed %+v %+v", ts[0], ts[1])
	}
	for _, bad := range []string{"ipmi://h interface=usb\n", "ipmi://h cipher-suite=x\n", "ipmi://h/path\n"} {
		if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := parseTargetsFile(context.Background(), f); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
