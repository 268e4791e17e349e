//go:build !linux

package mongoenv

import "os/exec"

// setDeathSignal does nothing: only Linux sends a signal to a child when
// its parent dies.
func setDeathSignal(*exec.Cmd) {}
