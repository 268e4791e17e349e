package mongoenv

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the child receive SIGTERM when the test binary
// dies, so that a killed test run leaves no server behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
