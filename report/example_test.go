package report_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
	"github.com/prefail/prefail/report"
)

// Scan a fleet (here one mock BMC serving a DMTF mockup) and write its
// report: one HTML file that loads nothing.
func ExampleWriteHTML() {
	tree, _ := redfishmock.Embedded("public-rackmount1")
	bmc := redfishtest.NewServer(tree)
	defer bmc.Close()

	results := agent.Scan(context.Background(), []*agent.Target{
		{Endpoint: bmc.URL, Username: redfishmock.DefaultUser, Password: redfishmock.DefaultPassword},
	}, agent.ScanOptions{Timeout: 30 * time.Second})

	dir, _ := os.MkdirTemp("", "prefail-report-")
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "fleet.html"))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = report.WriteHTML(context.Background(), f, report.Input{Generated: time.Now(), Results: results})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	page, _ := os.ReadFile(f.Name())
	fmt.Println("self-contained:", !strings.Contains(string(page), "<script") && !strings.Contains(string(page), "http-equiv=\"refresh\""))
	fmt.Println("PSU Bay 1 shown:", strings.Contains(string(page), "Power Supply Bay 1"))
	// Output:
	// self-contained: true
	// PSU Bay 1 shown: true
}
