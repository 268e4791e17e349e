//go:build unix

package mongoenv

import (
	"os"
	"syscall"
)

// terminate asks p to stop (the command stops on SIGTERM).
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// lockFile takes an exclusive lock on path (created if missing), held until
// the returned function is called.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
