package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// testNow is the clock of every test store and command.
var testNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func testClock() time.Time { return testNow }

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// newTestApp returns an app on the test clock and a fast hasher, reading
// stdin.
func newTestApp(stdin string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errOut)
	a.now = testClock
	a.hasher = secret.ForTests()
	a.getenv = func(string) string { return "" }
	return a, &out, &errOut
}

// cli runs the command line args through the cobra root in-process.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	a, out, errOut := newTestApp(stdin)
	code := a.run(context.Background(), args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// want fails t unless r exited with code.
func want(t *testing.T, r result, code int, args ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// run runs args and requires exit code.
func run(t *testing.T, code int, args ...string) result {
	t.Helper()
	return want(t, cli(t, "", args...), code, args...)
}

// decode parses the JSON stdout of r into v.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON (%v):\n%s", err, r.stdout)
	}
}

// Every command and group has --help, exit 0, on stdout.
func TestHelp(t *testing.T) {
	a, _, _ := newTestApp("")
	var paths [][]string
	var walk func(prefix []string, c *cobra.Command)
	walk = func(prefix []string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			p := append(slices.Clone(prefix), sub.Name())
			paths = append(paths, p)
			walk(p, sub)
		}
	}
	walk(nil, a.rootCmd())
	if len(paths) != 17 {
		t.Fatalf("only %d commands found: %v", len(paths), paths)
	}
	for _, p := range paths {
		r := run(t, 0, append(p, "--help")...)
		if !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
			t.Errorf("%v --help:\n%s", p, r)
		}
	}
	r := run(t, 0, "--help")
	for _, s := range []string{"Exit codes:", "3  not found", "4  conflict or invalid", "2  usage", "OAUTHSTORE_DSN"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("the root help lacks %q", s)
		}
	}
}

// Command lines cobra or the commands reject are usage errors (2), with
// the error on stderr, as JSON with --json.
func TestUsageErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "u.db")
	for _, args := range [][]string{
		{},
		{"nosuch"},
		{"client"},
		{"client", "nosuch"},
		{"client", "show"},
		{"client", "show", "a", "b"},
		{"client", "show", "a", "--dsn", db, "--nosuch"},
		{"client", "list", "--dsn", db, "--limit", "x"},
		{"client", "list", "--dsn", db, "--limit", "5000"},
		{"client", "update", "a", "--dsn", db},
		{"client", "rotate-secret", "a", "--dsn", db, "--overlap", "-1h"},
		{"client", "show", "a"}, // no DSN
		{"migrate", "sql"},
		{"migrate", "sql", "--dialect", "oracle"},
		{"migrate", "sql", "--dialect", "sqlite", "--from", "99"},
		{"migrate", "sql", "--dialect", "sqlite", "--from", "-1"},
		{"migrate", "up", "extra"},
		{"revoke", "token"},
		{"revoke", "token", "x", "--stdin", "--dsn", db},
		{"purge", "--dsn", db, "--every", "1ms"},
		{"stats", "x"},
	} {
		r := cli(t, "", args...)
		if r.code != exitUsage || r.stderr == "" || !strings.Contains(r.stderr, "oauthstore") {
			t.Errorf("%q: want exit 2 and a message\n%s", args, r)
		}
	}
	r := want(t, cli(t, "", "client", "show", "--json"), exitUsage)
	var e struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || e.ExitCode != exitUsage || e.Error == "" {
		t.Errorf("JSON error: %v\n%s", err, r)
	}
	// The DSN comes from the environment when --dsn is not given.
	a, out, errOut := newTestApp("")
	a.getenv = func(k string) string {
		if k == dsnEnv {
			return db
		}
		return ""
	}
	if code := a.run(context.Background(), []string{"migrate", "status"}); code != 0 || !strings.Contains(out.String(), "sqlite") {
		t.Errorf("DSN from %s: exit %d\n%s%s", dsnEnv, code, out, errOut)
	}
	// A DSN the store cannot open is an error (1), its password unshown.
	r = cli(t, "", "stats", "--dsn", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if r.code != exitError || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("unreachable server:\n%s", r)
	}
	for _, d := range []string{"postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "postgres://u:hun%zzter2@h/db", "mysql://u:hunter2@127.0.0.1:1/db?timeout=2s"} {
		r = cli(t, "", "migrate", "status", "--dsn", d)
		if r.code != exitError || strings.Contains(r.stderr, "hunter2") {
			t.Errorf("migrate status on %s:\n%s", dsn.Redact(d), r)
		}
	}
	r = cli(t, "", "stats", "--dsn", "oracle://x")
	if r.code != exitError || !strings.Contains(r.stderr, "unknown scheme") {
		t.Errorf("unknown scheme:\n%s", r)
	}
}

func TestMigrateSQL(t *testing.T) {
	last := fmt.Sprintf("(version %d)", gormstore.SchemaVersion)
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		r := run(t, 0, "migrate", "sql", "--dialect", d)
		for _, s := range []string{"-- 0001_init.sql (version 1)", last, "CREATE TABLE", "oauthstore_schema_version"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("%s: the SQL lacks %q", d, s)
			}
		}
		from := strconv.Itoa(gormstore.SchemaVersion - 1)
		r = run(t, 0, "migrate", "sql", "--dialect", d, "--from", from)
		if strings.Contains(r.stdout, "0001_init") || strings.Count(r.stdout, "(version ") != 1 || !strings.Contains(r.stdout, last) {
			t.Errorf("%s --from %s:\n%s", d, from, r.stdout)
		}
		r = run(t, 0, "migrate", "sql", "--dialect", d, "--from", strconv.Itoa(gormstore.SchemaVersion))
		if !strings.Contains(r.stdout, "nothing to apply") {
			t.Errorf("%s --from latest:\n%s", d, r.stdout)
		}
		var j struct {
			Dialect string
			To      int
			Files   []struct {
				Version int
				Name    string
				SQL     string
			}
		}
		decode(t, run(t, 0, "migrate", "sql", "--dialect", d, "--from", "1", "--json"), &j)
		if j.Dialect != d || j.To != gormstore.SchemaVersion || len(j.Files) != gormstore.SchemaVersion-1 || j.Files[0].Version != 2 || !strings.Contains(j.Files[0].SQL, "oauthstore_") {
			t.Errorf("%s JSON: %+v", d, j)
		}
	}
}

// A store without the optional interfaces: the commands that need them
// say so and exit 1.
type bareStore struct{ storage.Storage }

// stats needs storage.StatsReporter, which a store may lack.
func TestBackendWithoutStats(t *testing.T) {
	for _, args := range [][]string{
		{"stats"},
	} {
		a, out, errOut := newTestApp("")
		a.open = func(context.Context, string, ...dsn.Option) (storage.Storage, func() error, error) {
			return bareStore{memstore.New()}, func() error { return nil }, nil
		}
		code := a.run(context.Background(), append(args, "--dsn", "memory:"))
		if code != exitError || !strings.Contains(errOut.String(), "does not support") || out.Len() != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// flakyStore fails the purge rounds listed in fail (1-based).
type flakyStore struct {
	storage.Storage
	round int
	fail  map[int]bool
}

func (f *flakyStore) PurgeExpired(ctx context.Context) (int64, error) {
	f.round++
	if f.fail[f.round] {
		return 0, errors.New("database is down")
	}
	return f.Storage.PurgeExpired(ctx)
}

// purge --every runs a round at once and one a tick until the context
// (the signal) ends it, printing each round; a failed round is reported
// and counted, and the exit code is 1 only if the last round failed.
func TestPurgeEvery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fail   map[int]bool
		rounds int
		code   int
		json   bool
	}{
		{"ok", nil, 3, 0, false},
		{"middle round fails", map[int]bool{2: true}, 3, 0, false},
		{"last round fails", map[int]bool{3: true}, 3, 1, false},
		{"json", map[int]bool{1: true}, 2, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mem := memstore.New(memstore.WithClock(testClock))
			// One expired token for the first round to purge.
			if err := mem.CreateToken(ctx, &models.Token{AccessToken: "a-expired", ClientID: "c", IssuedAt: testNow.Add(-2 * time.Hour), ExpiresIn: time.Hour}); err != nil {
				t.Fatal(err)
			}
			st := &flakyStore{Storage: mem, fail: tc.fail}
			a, out, errOut := newTestApp("")
			a.open = func(context.Context, string, ...dsn.Option) (storage.Storage, func() error, error) {
				return st, func() error { return nil }, nil
			}
			ticks := make(chan time.Time, 10)
			for range 10 {
				ticks <- testNow
			}
			stopped := false
			var every time.Duration
			a.ticker = func(d time.Duration) (<-chan time.Time, func()) {
				every = d
				return ticks, func() { stopped = true }
			}
			rounds := 0
			a.afterRound = func() {
				if rounds++; rounds == tc.rounds {
					cancel() // the signal
				}
			}
			args := []string{"purge", "--dsn", "memory:", "--every", "10m"}
			if tc.json {
				args = append(args, "--json")
			}
			code := a.run(ctx, args)
			r := result{out.String(), errOut.String(), code}
			if code != tc.code || st.round != tc.rounds || !stopped || every != 10*time.Minute {
				t.Fatalf("exit %d, %d rounds, ticker stopped %v, every %v; want exit %d, %d rounds\n%s", code, st.round, stopped, every, tc.code, tc.rounds, r)
			}
			failed := len(tc.fail)
			if tc.json {
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != tc.rounds+1 {
					t.Fatalf("want %d JSON lines:\n%s", tc.rounds+1, r.stdout)
				}
				var first roundJSON
				var sum summaryJSON
				if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &sum) != nil {
					t.Fatalf("not JSON lines:\n%s", r.stdout)
				}
				if first.Round != 1 || first.Error == "" || sum.Rounds != tc.rounds || sum.FailedRounds != 1 || sum.Purged != 1 || sum.LastFailed {
					t.Errorf("first %+v, summary %+v", first, sum)
				}
				return
			}
			if strings.Count(r.stderr, "Z round ") != failed {
				t.Errorf("want %d failures reported on stderr:\n%s", failed, r)
			}
			if strings.Count(r.stdout, " expired records (") != tc.rounds-failed {
				t.Errorf("want %d rounds reported:\n%s", tc.rounds-failed, r)
			}
			wantPurged := "purged 1 expired records"
			if tc.fail[1] {
				wantPurged = "purged 0"
			}
			if !strings.Contains(r.stdout, wantPurged) || !strings.Contains(r.stdout, "Stopped after 3 rounds") {
				t.Errorf("summary:\n%s", r)
			}
			if tc.code != 0 && !strings.Contains(r.stderr, "the last purge round failed") {
				t.Errorf("no final error:\n%s", r)
			}
		})
	}
}

// A backend: its name and a fresh, empty database's DSN as an operator
// writes it.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "oauth.db") }},
	{"postgres", func(t *testing.T) string {
		d := testenv.PostgresDSN(t)
		if !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
			testenv.Unavailable(t, "PostgreSQL", testenv.PostgresEnv, "the CLI tests need the URL form postgres://…")
		}
		return d
	}},
	{"mariadb", func(t *testing.T) string {
		c, err := gomysql.ParseDSN(testenv.MySQLDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		u := &url.URL{Scheme: "mysql", User: url.UserPassword(c.User, c.Passwd), Host: c.Addr, Path: "/" + c.DBName}
		if c.Passwd == "" {
			u.User = url.User(c.User)
		}
		return u.String()
	}},
	{"ferretdb", func(t *testing.T) string {
		db := mongoenv.FerretDB(t) // a fresh database, dropped at the end
		uri, err := mongoenv.FerretDBURI()
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + db.Name()
		return u.String()
	}},
}
