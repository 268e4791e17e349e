package e2e_test

import (
	"context"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/examples/authserver/e2e"
	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.CloseMongo()
	os.Exit(code)
}

func gormMaker(t *testing.T, db *gorm.DB, clock func() time.Time) storage.Storage {
	t.Helper()
	s, err := gormstore.New(context.Background(), db, gormstore.WithClock(clock), gormstore.WithHasher(secret.Fast()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The flows on every backend: memstore, SQLite and embedded FerretDB
// always; PostgreSQL and MariaDB when their variables are set (see
// internal/testenv).
func TestEndToEnd(t *testing.T) {
	for _, b := range []struct {
		name string
		open e2e.NewStore
	}{
		{"memory", func(t *testing.T, clock func() time.Time) storage.Storage {
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.Fast()))
		}},
		{"sqlite", func(t *testing.T, clock func() time.Time) storage.Storage {
			return gormMaker(t, testenv.SQLite(t), clock)
		}},
		{"ferretdb", func(t *testing.T, clock func() time.Time) storage.Storage {
			s, err := mongostore.New(context.Background(), testenv.FerretDB(t), mongostore.WithClock(clock), mongostore.WithHasher(secret.Fast()))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"postgres", func(t *testing.T, clock func() time.Time) storage.Storage {
			return gormMaker(t, testenv.Postgres(t), clock)
		}},
		{"mysql", func(t *testing.T, clock func() time.Time) storage.Storage {
			return gormMaker(t, testenv.MySQL(t), clock)
		}},
	} {
		t.Run(b.name, func(t *testing.T) { e2e.Run(t, b.open) })
	}
}

func TestFlows(t *testing.T) {
	names := e2e.Flows()
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			t.Fatalf("flow names %q", names)
		}
		seen[n] = true
	}
	for _, want := range []string{"ConcurrentRefreshes", "StolenRefreshToken", "CodeReplayRevokesGrant", "NoGrantIDInTokenResponses", "RefreshParamsInQuery", "ErrorResponses"} {
		if !seen[want] {
			t.Errorf("flow %s missing from %q", want, names)
		}
	}
}
