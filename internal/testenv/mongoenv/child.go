package mongoenv

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ferretDBPackage is the command run as the child, relative to the root of
// the repository.
const ferretDBPackage = "./infratest/cmd/ferretdb"

// startTimeout bounds how long the child may take to listen.
const startTimeout = 2 * time.Minute

// stopTimeout bounds how long the child may take to stop after SIGTERM
// before it is killed.
const stopTimeout = 10 * time.Second

// ferretDBBinary returns the path of the binary to run: [FerretDBBinEnv],
// or one built through go.work into the shared cache directory.
func ferretDBBinary() (string, error) {
	if bin := os.Getenv(FerretDBBinEnv); bin != "" {
		return bin, nil
	}
	work, err := findGoWork()
	if err != nil {
		return "", err
	}
	root := filepath.Dir(work)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command to build %s: %w", ferretDBPackage, err)
	}
	key, err := buildKey(goCmd, root)
	if err != nil {
		return "", err
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ferretdb-"+key)
	if isFile(bin) {
		return bin, nil
	}
	// One test binary builds; the others wait for it and find the result.
	unlock, err := lockFile(filepath.Join(dir, "ferretdb.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isFile(bin) {
		return bin, nil
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(goCmd, "build", "-ldflags=-s -w", "-o", tmp, ferretDBPackage)
	cmd.Dir = root
	// Through the repository's workspace even under GOWORK=off: the
	// command is in the nested module.
	cmd.Env = append(os.Environ(), "GOWORK="+work)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build %s in %s: %w\n%s", ferretDBPackage, root, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	// Binaries of earlier keys are of no more use (a running one keeps
	// running: its file stays open).
	old, _ := filepath.Glob(filepath.Join(dir, "ferretdb-*"))
	for _, o := range old {
		if o != bin && !strings.Contains(filepath.Base(o), ".tmp") {
			_ = os.Remove(o)
		}
	}
	return bin, nil
}

// findGoWork returns the go.work above the working directory whose
// directory holds the FerretDB command.
func findGoWork() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		work := filepath.Join(dir, "go.work")
		if isFile(work) && isFile(filepath.Join(dir, ferretDBPackage, "main.go")) {
			return work, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work with %s above the working directory", ferretDBPackage)
		}
		dir = parent
	}
}

// buildKey digests what decides the binary: the Go toolchain and its
// settings, the workspace and both modules' requirements, and the
// command's source.
func buildKey(goCmd, root string) (string, error) {
	h := sha256.New()
	env, err := exec.Command(goCmd, "env", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	h.Write(env)
	files := []string{"go.work", "go.work.sum", "go.mod", "go.sum", "infratest/go.mod", "infratest/go.sum"}
	srcs, _ := filepath.Glob(filepath.Join(root, ferretDBPackage, "*.go"))
	for _, s := range srcs {
		if !strings.HasSuffix(s, "_test.go") {
			rel, _ := filepath.Rel(root, s)
			files = append(files, rel)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// cacheDir returns (creating it) the directory shared by the test binaries
// of the machine.
func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "oauthstore-test")
	return dir, os.MkdirAll(dir, 0o755)
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// child is a running FerretDB process.
type child struct {
	cmd    *exec.Cmd
	dir    string // its files, removed by stop
	uri    string
	exited chan struct{} // closed once the process has exited
	once   sync.Once
}

// startChild starts bin on 127.0.0.1 at a free port with the SQLite
// handler and waits for the line it prints once it listens.
func startChild(bin string) (*child, error) {
	dir, err := os.MkdirTemp("", "oauthstore-ferretdb-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--listen-addr=127.0.0.1:0", "--handler=sqlite", "--state-dir="+dir, "--log-level=error")
	cmd.Stdout = os.Stderr
	setDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	c := &child{cmd: cmd, dir: dir, exited: make(chan struct{})}
	uris := make(chan string, 1)
	var early bytes.Buffer // what the child said before listening
	var earlyMu sync.Mutex
	go func() {
		defer close(c.exited)
		r := bufio.NewReader(stderr)
		ready := false
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				if !ready {
					if uri, ok := readyURI(line); ok {
						ready = true
						uris <- uri
					} else {
						earlyMu.Lock()
						early.WriteString(line)
						earlyMu.Unlock()
					}
				} else {
					// FerretDB's errors, for whoever reads the test log.
					_, _ = io.WriteString(os.Stderr, line)
				}
			}
			if err != nil {
				break
			}
		}
		// All reads from the pipe are done: Wait may run.
		_ = cmd.Wait()
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case c.uri = <-uris:
		return c, nil
	case <-c.exited:
		_ = os.RemoveAll(dir)
		earlyMu.Lock()
		defer earlyMu.Unlock()
		return nil, fmt.Errorf("%s exited before listening (%v): %s", bin, cmd.ProcessState, strings.TrimSpace(early.String()))
	case <-timer.C:
		c.stop()
		return nil, fmt.Errorf("%s not listening after %v", bin, startTimeout)
	}
}

// readyURI returns the URI of the line the command prints once it listens:
// "ferretdb: listening, sqlite handler, mongodb://127.0.0.1:PORT/".
func readyURI(line string) (string, bool) {
	if !strings.HasPrefix(line, "ferretdb: listening") {
		return "", false
	}
	i := strings.Index(line, "mongodb://")
	if i < 0 {
		return "", false
	}
	return strings.TrimSpace(line[i:]), true
}

// stop asks the child to stop, kills it if it does not within
// stopTimeout, and removes its files.
func (c *child) stop() {
	c.once.Do(func() {
		if err := terminate(c.cmd.Process); err != nil {
			_ = c.cmd.Process.Kill()
		}
		select {
		case <-c.exited:
		case <-time.After(stopTimeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		_ = os.RemoveAll(c.dir)
	})
}
