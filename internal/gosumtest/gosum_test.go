package gosumtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthstore/oauthstore/internal/testenv/testreq"
)

// modulePath is the path of the repository's root module.
const modulePath = "github.com/oauthstore/oauthstore"

// forbidden are module path prefixes that no user of a library package may
// get in go.sum: they serve only the project's tests, benchmarks and tools.
var forbidden = []string{
	"github.com/testcontainers/",
	"github.com/docker/docker",
	"github.com/moby/",
	"github.com/FerretDB/",
	"modernc.org/",
	"go.mongodb.org/mongo-driver ", // v1; v2 is mongostore's driver
	"github.com/SAP/go-hdb",
	"go.opentelemetry.io/otel/sdk",
	"github.com/ory/",
}

// sdkAllowed names the packages whose own tests use the OpenTelemetry SDK:
// otelstore records spans and metrics with it, as its users do.
var sdkAllowed = map[string]bool{"otelstore": true}

// row is one line of the README's table: the package (relative to
// modulePath) and the most go.sum lines a module importing only it may have.
type row struct {
	pkg   string
	lines int
}

// tableRow matches "| `gormstore` | 34 | ...".
var tableRow = regexp.MustCompile("^\\|\\s*`([a-z0-9/]+)`\\s*\\|\\s*([0-9]+)\\s*\\|")

// readTable returns the rows of the table under the README heading
// "### Dependencies".
func readTable(readme []byte) ([]row, error) {
	var rows []row
	in := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			if in {
				break
			}
			in = strings.TrimSpace(line) == "### Dependencies"
			continue
		}
		if !in {
			continue
		}
		if m := tableRow.FindStringSubmatch(line); m != nil {
			n, err := strconv.Atoi(m[2])
			if err != nil {
				return nil, err
			}
			rows = append(rows, row{m[1], n})
		}
	}
	if len(rows) == 0 {
		return nil, errors.New(`no table rows ("| ` + "`package`" + ` | lines |") under "### Dependencies"`)
	}
	return rows, sc.Err()
}

func TestReadTable(t *testing.T) {
	readme := "## Backends\n| `nope` | 1 |\n### Dependencies\n\ntext\n\n" +
		"| a module importing only | go.sum lines | was |\n| --- | --: | --: |\n" +
		"| `memstore` | 4 | 4 |\n| `integration/gooauth2` | 10 | 224 |\n\n### Next\n| `after` | 9 |\n"
	rows, err := readTable([]byte(readme))
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"memstore", 4}, {"integration/gooauth2", 10}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	if _, err := readTable([]byte("### Dependencies\nno table\n")); err == nil {
		t.Error("no error for a section without a table")
	}
}

func TestUserGoSum(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(gomod, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s/go.mod is not module %s", root, modulePath)
	}
	goLine := regexp.MustCompile(`(?m)^go ([0-9.]+)$`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("no go directive in go.mod")
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := readTable(readme)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		testreq.Unavailable(t, "the go command", "PATH", err.Error())
	}
	// The verified checksums the repository already has: tidy keeps those
	// the user module needs and drops the rest.
	var seed []byte
	for _, f := range []string{"go.sum", "infratest/go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		seed = append(seed, b...)
	}
	proxy := goEnv(t, goCmd, "GOPROXY")

	for _, r := range rows {
		t.Run(strings.ReplaceAll(r.pkg, "/", "_"), func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "go.mod"), fmt.Sprintf(
				"module example.com/user\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %s => %s\n",
				goLine[1], modulePath, modulePath, filepath.ToSlash(root)))
			write(t, filepath.Join(dir, "user.go"), fmt.Sprintf(
				"package user\n\nimport _ %q\n", modulePath+"/"+r.pkg))
			write(t, filepath.Join(dir, "go.sum"), string(seed))

			out, err := tidy(goCmd, dir, "off")
			if err != nil && strings.Contains(string(out), "GOPROXY=off") && proxy != "off" && proxy != "" {
				// A module that only the tests of a dependency need was never
				// downloaded by this test run.
				t.Logf("offline go mod tidy lacks modules (%d lines of errors); again through GOPROXY=%s", bytes.Count(out, []byte("\n")), proxy)
				out, err = tidy(goCmd, dir, proxy)
			}
			if err != nil {
				t.Fatalf("go mod tidy: %v\n%s", err, out)
			}
			sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				// No go.sum: a package without dependencies.
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(sum)), "\n")
			if len(sum) == 0 {
				lines = nil
			}
			modules := map[string]bool{}
			for _, l := range lines {
				f := strings.Fields(l)
				if len(f) != 3 {
					t.Fatalf("go.sum line %q", l)
				}
				if modules[f[0]] {
					continue
				}
				modules[f[0]] = true
				for _, bad := range forbidden {
					if bad == "go.opentelemetry.io/otel/sdk" && sdkAllowed[r.pkg] {
						continue
					}
					if strings.HasPrefix(f[0]+" ", bad) {
						t.Errorf("go.sum of a module importing only %s names %s: a test-only dependency reaches users", r.pkg, f[0])
						break
					}
				}
			}
			t.Logf("%s: %d go.sum lines, %d modules", r.pkg, len(lines), len(modules))
			if len(lines) > r.lines {
				t.Errorf("a module importing only %s has %d go.sum lines, README.md's Dependencies table allows %d:\n%s",
					r.pkg, len(lines), r.lines, sum)
			} else if len(lines) < r.lines {
				t.Logf("%d lines, fewer than README.md's %d: lower the figure", len(lines), r.lines)
			}
		})
	}
}

// tidy runs go mod tidy in dir with GOPROXY=proxy, outside the workspace.
func tidy(goCmd, dir, proxy string) ([]byte, error) {
	cmd := exec.Command(goCmd, "mod", "tidy")
	cmd.Dir = dir
	env := []string{
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOPROXY=" + proxy,
		"GOTOOLCHAIN=local",
	}
	if proxy == "off" {
		// The checksum database is out of reach too; the module cache's
		// files were verified when they were downloaded.
		env = append(env, "GOSUMDB=off")
	}
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

func goEnv(t *testing.T, goCmd, name string) string {
	t.Helper()
	out, err := exec.Command(goCmd, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
