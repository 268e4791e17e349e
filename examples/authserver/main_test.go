package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthstore/oauthstore/examples/authserver/backend"
	"github.com/oauthstore/oauthstore/secret"
)

func TestMain(m *testing.M) {
	hasher = secret.Fast() // bcrypt at cost 10 makes the race detector crawl
	os.Exit(m.Run())
}

// The command's own -walkthrough flag, on its default temporary SQLite file.
func TestRunWalkthrough(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-walkthrough"}, &out); err != nil {
		t.Fatalf("-walkthrough: %v\n%s", err, out.String())
	}
	for _, s := range []string{"[1] Client registered", "[6] Old refresh token replayed: reuse detected", "[7] Second grant: its code replayed", "[10] Purged", "Done:"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("%q missing from:\n%s", s, out.String())
		}
	}
}

// create-client prints the ID and the secret once; the store accepts that
// secret and keeps only its hash.
func TestCreateClient(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "authserver.db")
	var out bytes.Buffer
	if err := run([]string{"-dsn", dsn, "create-client", "-redirect", "http://127.0.0.1:9094/callback", "-scope", "read"}, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^client_id=(\S+)\nclient_secret=(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	ctx := context.Background()
	store, closeStore, err := backend.Open(ctx, dsn, backend.Options{Hasher: hasher})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	c, err := store.AuthenticateClient(ctx, m[1], m[2])
	if err != nil {
		t.Fatalf("the printed secret: %v", err)
	}
	if c.Scope != "read" || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "http://127.0.0.1:9094/callback" || c.SecretHash == "" || c.SecretHash == m[2] {
		t.Fatalf("stored client %+v", c)
	}
	if err := run([]string{"-dsn", dsn, "create-client"}, &out); err == nil {
		t.Fatal("create-client without -redirect succeeded")
	}
	if err := run([]string{"-dsn", "nosuch:x"}, &out); err == nil {
		t.Fatal("unknown DSN scheme accepted")
	}
}
