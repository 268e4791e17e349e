//go:build !unix

package mongoenv

import "os"

// terminate stops p: without SIGTERM, by killing it.
func terminate(p *os.Process) error { return p.Kill() }

// lockFile does not lock: two test binaries building the FerretDB command
// at once both build it, and the last rename wins.
func lockFile(string) (func(), error) { return func() {}, nil }
