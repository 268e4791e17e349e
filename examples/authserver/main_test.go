package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	hasher = secret.ForTests() // bcrypt at cost 10 makes the race detector crawl
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
	d := "sqlite:" + filepath.Join(t.TempDir(), "authserver.db")
	var out bytes.Buffer
	if err := run([]string{"-dsn", d, "create-client", "-redirect", "http://127.0.0.1:9094/callback", "-scope", "read"}, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^client_id=(\S+)\nclient_secret=(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	ctx := context.Background()
	store, closeStore, err := dsn.Open(ctx, d, dsn.WithHasher(hasher))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	c, err := store.AuthenticateClient(ctx, m[1], m[2])
	if err != nil {
		t.Fatalf("the printed secret: %v", err)
	}
	if c.Scope != "read" || app.IsResourceServer(c) || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "http://127.0.0.1:9094/callback" || c.SecretHash == "" || c.SecretHash == m[2] {
		t.Fatalf("stored client %+v", c)
	}
	if err := run([]string{"-dsn", d, "create-client"}, &out); err == nil {
		t.Fatal("create-client without -redirect succeeded")
	}
	if err := run([]string{"-dsn", d, "create-client", "-public", "-resource-server"}, &out); err == nil {
		t.Fatal("create-client -public -resource-server succeeded")
	}

	// A resource server needs no redirect URI; the store records it.
	out.Reset()
	if err := run([]string{"-dsn", d, "create-client", "-resource-server"}, &out); err != nil {
		t.Fatal(err)
	}
	m = regexp.MustCompile(`(?m)^client_id=(\S+)\nclient_secret=(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	if c, err = store.GetClient(ctx, m[1]); err != nil || !app.IsResourceServer(c) || c.IsPublic() {
		t.Fatalf("the resource server as stored: %+v %v", c, err)
	}
	if err := run([]string{"-dsn", "nosuch:x"}, &out); err == nil {
		t.Fatal("unknown DSN scheme accepted")
	}
}

func TestCheckListenAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9096": true, "127.0.0.2:80": true, "[::1]:9096": true, "localhost:9096": true, "LOCALHOST:1": true,
		":9096": false, "0.0.0.0:9096": false, "[::]:9096": false, "192.0.2.10:9096": false, "example.com:9096": false,
		"localhost.example.com:9096": false, "[2001:db8::1]:443": false,
	} {
		err := checkListenAddr(addr, false)
		if (err == nil) != ok {
			t.Errorf("checkListenAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "-unsafe-listen-any") {
			t.Errorf("checkListenAddr(%q) = %v: does not name the flag", addr, err)
		}
		if err := checkListenAddr(addr, true); err != nil {
			t.Errorf("checkListenAddr(%q, allowAny) = %v", addr, err)
		}
	}
	if err := checkListenAddr("no-port", true); err == nil {
		t.Error("an address without a port was accepted")
	}
}

// The server refuses a non-loopback address before it opens the store or
// listens. (The addresses cannot be listened on here either, so that the
// test fails instead of serving if the check is gone.)
func TestServeRefusesNonLoopbackAddr(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"-dsn", "memory:", "-addr", "192.0.2.10:0"},
		{"-dsn", "memory:", "-addr", "[2001:db8::1]:0", "-unsafe-auto-approve"},
		{"-dsn", "memory:", "-addr", "host.invalid:0", "serve"},
	} {
		err := run(args, &out)
		if err == nil || !strings.Contains(err.Error(), "-unsafe-listen-any") {
			t.Errorf("run(%q) = %v", args, err)
		}
	}
}

// The walkthrough on Redis through -dsn redis://: the server at
// OAUTHSTORE_TEST_REDIS_ADDR, or an embedded miniredis without it, under a
// key prefix of its own.
func TestRunWalkthroughRedis(t *testing.T) {
	addr := os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = miniredis.RunT(t).Addr()
	}
	prefix := fmt.Sprintf("walkthrough-%d", time.Now().UnixNano())
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, "{"+prefix+"}*").Result(); len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	})
	var out bytes.Buffer
	if err := run([]string{"-walkthrough", "-dsn", "redis://" + addr + "/0?key_prefix=" + prefix}, &out); err != nil {
		t.Fatalf("-walkthrough on redis: %v\n%s", err, out.String())
	}
	for _, s := range []string{"backend redis://", "[6] Old refresh token replayed: reuse detected", "[10] Purged", "Done:"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("%q missing from:\n%s", s, out.String())
		}
	}
}
