package dsn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/internal/testenv"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestMySQLDSN(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root@127.0.0.1:3306/test":                             "root@tcp(127.0.0.1:3306)/test?parseTime=true",
		"mysql://u:p%40ss@db.example/oauth?tls=true":                   "u:p@ss@tcp(db.example:3306)/oauth?parseTime=true&tls=true",
		"mysql://u@[::1]:3307/x?charset=utf8mb4&collation=utf8mb4_bin": "u@tcp([::1]:3307)/x?parseTime=true&charset=utf8mb4&collation=utf8mb4_bin",
		"mysql://u@[::1]/x":                                            "u@tcp([::1]:3306)/x?parseTime=true",
		"MySQL://u@h/x":                                                "u@tcp(h:3306)/x?parseTime=true",
	} {
		got, err := MySQLDSN(in)
		if err != nil || got != want {
			t.Errorf("MySQLDSN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := MySQLDSN("mysql://root@127.0.0.1:3306"); err == nil {
		t.Error("a URL without a database was accepted")
	}
	_, err := MySQLDSN("mysql://u:hunter2@h:bad/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("malformed URL: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:hunter2@h/db":                       "postgres://u:xxxxx@h/db",
		"postgres://u@h/db?sslmode=disable":               "postgres://u@h/db?sslmode=disable",
		"postgres://h/db?password=hunter2&sslmode=verify": "postgres://h/db?password=xxxxx&sslmode=verify",
		"mongodb://u:hunter2@h:27017/db":                  "mongodb://u:xxxxx@h:27017/db",
		"mysql://u:hunter2@h/db":                          "mysql://u:xxxxx@h/db",
		"sqlite:/tmp/a.db":                                "sqlite:/tmp/a.db",
		"memory:":                                         "memory:",
		"host=h password=hunter2":                         hidden,
		"postgres://u:hun%zzter2@h/db":                    hidden,
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{
		"", "nosuch:x", "host=h password=hunter2", "sqlite:", "sqlite:a.db?_auth_pass=hunter2", "memory:x",
		"mysql://u:hunter2@h:3306", "mongodb://u:hunter2@h:notaport/db", "postgres://u:hun%zzter2@h/db",
	} {
		_, _, err := Open(ctx, d)
		if err == nil {
			t.Errorf("Open(%q) succeeded", d)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): the error shows the password: %v", d, err)
		}
	}
}

// memory: and sqlite: open working stores on the clock and hasher given;
// a SQLite file keeps its records across a close and a reopen.
func TestOpenMemoryAndSQLite(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "x.db")
	for _, d := range []string{"memory:", "MEMORY:", "sqlite:" + path} {
		s, closeFn, err := Open(ctx, d, WithClock(clock), WithHasher(secret.ForTests()))
		if err != nil {
			t.Fatalf("Open(%q): %v", d, err)
		}
		c := &models.Client{ClientID: "c", ClientSecret: "s3cret", RedirectURIs: []string{"https://app.example/cb"}}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		// The store's clock is the one given: a token issued at now is
		// live, though an hour in the past by the wall clock.
		tok := &models.Token{AccessToken: "a-" + d, ClientID: "c", IssuedAt: now, ExpiresIn: time.Minute}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenByAccess(ctx, tok.AccessToken); err != nil {
			t.Fatalf("%s: the token on the store's clock: %v", d, err)
		}
		if err := closeFn(); err != nil {
			t.Fatal(err)
		}
	}
	s, closeFn, err := Open(ctx, "sqlite:"+path, WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if _, err := s.AuthenticateClient(ctx, "c", "s3cret"); err != nil {
		t.Fatalf("the client after reopening: %v", err)
	}
	// Wall clock this time: the token expired an hour ago.
	if _, err := s.GetTokenByAccess(ctx, "a-sqlite:"+path); !errors.Is(err, storage.ErrExpired) {
		t.Fatalf("the token after reopening on the wall clock: %v, want ErrExpired", err)
	}
}

// WithReuseInterval reaches the store: a replay right after a rotation
// fails without revoking the grant.
func TestOpenReuseInterval(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{"memory:", "sqlite:" + filepath.Join(t.TempDir(), "r.db")} {
		for _, interval := range []time.Duration{0, time.Minute} {
			s, closeFn, err := Open(ctx, d, WithHasher(secret.ForTests()), WithReuseInterval(interval))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			prefix := d + interval.String()
			old := &models.Token{AccessToken: prefix + "a1", RefreshToken: prefix + "r1", ClientID: "c", IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
			if err := s.CreateToken(ctx, old); err != nil {
				t.Fatal(err)
			}
			next := &models.Token{AccessToken: prefix + "a2", RefreshToken: prefix + "r2", ClientID: "c", IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
			if err := s.RotateToken(ctx, old.RefreshToken, next); err != nil {
				t.Fatal(err)
			}
			again := &models.Token{AccessToken: prefix + "a3", RefreshToken: prefix + "r3", ClientID: "c", IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
			if err := s.RotateToken(ctx, old.RefreshToken, again); !errors.Is(err, storage.ErrRevoked) {
				t.Fatalf("%s: replay: %v", d, err)
			}
			_, err = s.GetTokenByAccess(ctx, next.AccessToken)
			if interval > 0 && err != nil {
				t.Errorf("%s, interval %v: a replay within the interval revoked the grant: %v", d, interval, err)
			}
			if interval == 0 && !errors.Is(err, storage.ErrRevoked) {
				t.Errorf("%s, no interval: a replay left the grant alive: %v", d, err)
			}
			_ = closeFn()
		}
	}
}

// Every server scheme opens a store that works, on the databases the
// project's tests reach (skipped, or failed under
// OAUTHSTORE_TEST_REQUIRE=all, when one is missing).
func TestOpenServers(t *testing.T) {
	ctx := context.Background()
	for name, get := range map[string]func(t *testing.T) string{
		"postgres": func(t *testing.T) string { return testenv.PostgresDSN(t) },
		"mysql": func(t *testing.T) string {
			c, err := gomysql.ParseDSN(testenv.MySQLDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			u := &url.URL{Scheme: "mysql", User: url.UserPassword(c.User, c.Passwd), Host: c.Addr, Path: "/" + c.DBName}
			return u.String()
		},
		"ferretdb": func(t *testing.T) string {
			uri, err := mongoenv.FerretDBURI()
			if err != nil {
				t.Fatalf("FerretDB: %v", err)
			}
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatal(err)
			}
			u.Path = "/dsn_test_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
			return u.String()
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := get(t)
			s, closeFn, err := Open(ctx, d, WithHasher(secret.ForTests()))
			if err != nil {
				t.Fatalf("Open(%s): %v", Redact(d), err)
			}
			defer func() {
				if err := closeFn(); err != nil {
					t.Error(err)
				}
			}()
			id := "c-" + name
			if err := s.CreateClient(ctx, &models.Client{ClientID: id, ClientSecret: "s3cret"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AuthenticateClient(ctx, id, "s3cret"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// A redis:// DSN opens a redisstore with the key prefix it names, on the
// server of OAUTHSTORE_TEST_REDIS_ADDR or an embedded miniredis.
func TestOpenRedis(t *testing.T) {
	addr := os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = miniredis.RunT(t).Addr()
	}
	prefix := fmt.Sprintf("dsn-test-%d", time.Now().UnixNano())
	ctx := context.Background()
	s, closeFn, err := Open(ctx, "redis://"+addr+"/0?key_prefix="+prefix, WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if _, ok := s.(*redisstore.Store); !ok {
		t.Fatalf("redis:// opened a %T", s)
	}
	c := &models.Client{ClientID: "c", ClientSecret: "s3cret", RedirectURIs: []string{"https://app.example/cb"}}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteClient(ctx, "c") })
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "{"+prefix+"}*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no key under the DSN's key prefix %q (keys %v, err %v)", prefix, keys, err)
	}
	if _, _, err := Open(ctx, "redis://user:hunter2@127.0.0.1:1/0?dial_timeout=1s"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an unreachable redis DSN: err = %v: want an error without the password", err)
	}
}
