package prometheustest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill Prometheus if the test binary dies
// without running its cleanups (a panic in another goroutine, a timeout).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
