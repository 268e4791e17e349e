package mongoenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestMain(m *testing.M) {
	code := m.Run()
	CloseMongo()
	os.Exit(code)
}

func TestReadyURI(t *testing.T) {
	for _, tc := range []struct {
		line, uri string
		ok        bool
	}{
		{"ferretdb: listening, sqlite handler, mongodb://127.0.0.1:41234/\n", "mongodb://127.0.0.1:41234/", true},
		{"ferretdb: listening, postgresql handler, mongodb://127.0.0.1:1/", "mongodb://127.0.0.1:1/", true},
		{"time=... level=ERROR msg=\"listening on mongodb://127.0.0.1:1/\"\n", "", false},
		{"ferretdb: listening\n", "", false},
	} {
		uri, ok := readyURI(tc.line)
		if uri != tc.uri || ok != tc.ok {
			t.Errorf("readyURI(%q) = %q, %v; want %q, %v", tc.line, uri, ok, tc.uri, tc.ok)
		}
	}
}

// TestFerretDB starts the child (or uses the server of the environment),
// writes and reads a document, and checks that two databases are distinct.
func TestFerretDB(t *testing.T) {
	db := FerretDB(t)
	other := FerretDB(t)
	if db.Name() == other.Name() {
		t.Fatalf("two calls gave the same database %s", db.Name())
	}
	coll := db.Collection("probe")
	if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 7}}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	var got struct{ N int }
	if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.N != 7 {
		t.Fatalf("FindOne: %+v, %v", got, err)
	}
	n, err := other.Collection("probe").CountDocuments(t.Context(), bson.D{})
	if err != nil || n != 0 {
		t.Fatalf("the other database holds %d documents (%v), want 0", n, err)
	}
}

// TestChildStops starts a second child from the binary, stops it, and
// checks that its process has exited and its directory is gone.
func TestChildStops(t *testing.T) {
	if os.Getenv(FerretDBURIEnv) != "" {
		t.Skipf("%s set: no binary to start", FerretDBURIEnv)
	}
	bin, err := ferretDBBinary()
	if err != nil {
		t.Fatalf("FerretDB binary: %v", err)
	}
	c, err := startChild(bin)
	if err != nil {
		t.Fatal(err)
	}
	client, err := connect(c.uri)
	if err != nil {
		c.stop()
		t.Fatal(err)
	}
	disconnect(client)
	c.stop()
	select {
	case <-c.exited:
	default:
		t.Fatal("child still running after stop")
	}
	if c.cmd.ProcessState == nil || !c.cmd.ProcessState.Exited() {
		t.Errorf("child state %v, want exited (by SIGTERM, not killed)", c.cmd.ProcessState)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("child directory %s still there (%v)", c.dir, err)
	}
}

// TestBuildKey checks that the key changes with the command's source and
// not with its tests.
func TestBuildKey(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, ferretDBPackage)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	key := func() string {
		t.Helper()
		k, err := buildKey(goCmd, root)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write("main.go", "package main\n")
	k1 := key()
	write("main_test.go", "package main\n")
	if k := key(); k != k1 {
		t.Errorf("a test file changed the key")
	}
	write("main.go", "package main\n\nfunc main() {}\n")
	if k := key(); k == k1 {
		t.Errorf("a source change kept the key")
	}
}
