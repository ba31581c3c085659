package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// An agent watching one BMC (here a mock serving a real capture over
// HTTP), with its history and outbox in a store and its events printed
// as JSON Lines: a few lines of Go.
func Example() {
	tree, _ := redfishmock.Embedded("public-rackmount1")
	bmc := redfishtest.NewServer(tree)
	defer bmc.Close()

	dir, _ := os.MkdirTemp("", "prefail-example-")
	defer os.RemoveAll(dir)
	store, err := agent.OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	a, err := agent.New(
		[]*agent.Target{{Endpoint: bmc.URL, Username: redfishmock.DefaultUser, Password: redfishmock.DefaultPassword}},
		agent.WithStore(store),
		agent.WithOutputs(agent.NewStreamOutput("stdout", os.Stdout)),
		agent.WithInterval(time.Minute),
		agent.WithRounds(1), // a real agent runs until its context ends
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", a.Ready() == nil)
	fmt.Println("components scored:", len(a.Assessments(bmc.URL)) > 50)
	fmt.Println("sessions left open:", bmc.Mock.Sessions())
	// Output:
	// ready: true
	// components scored: true
	// sessions left open: 0
}
