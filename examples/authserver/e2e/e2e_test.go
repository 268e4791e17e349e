package e2e_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/alicebob/miniredis/v2"
	"github.com/oauthstore/oauthstore/examples/authserver/e2e"
	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

func gormMaker(t *testing.T, db *gorm.DB, clock func() time.Time) storage.Storage {
	t.Helper()
	s, err := gormstore.New(context.Background(), db, gormstore.WithClock(clock), gormstore.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// redisMaker opens a redisstore under a key prefix of its own on the server
// of OAUTHSTORE_TEST_REDIS_ADDR, or on an embedded miniredis without it,
// and deletes its keys at the end.
func redisMaker(t *testing.T, clock func() time.Time) storage.Storage {
	t.Helper()
	addr := os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = miniredis.RunT(t).Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 40})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis", "OAUTHSTORE_TEST_REDIS_ADDR", err.Error())
	}
	prefix := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, "{"+prefix+"}*").Result()
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	})
	s, err := redisstore.New(ctx, rdb, redisstore.WithKeyPrefix(prefix), redisstore.WithClock(clock), redisstore.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The flows on every backend: memstore, SQLite, FerretDB (a child process) and
// Redis (embedded miniredis without OAUTHSTORE_TEST_REDIS_ADDR) always;
// PostgreSQL and MariaDB when their variables are set (see
// internal/testenv).
func TestEndToEnd(t *testing.T) {
	for _, b := range []struct {
		name string
		open e2e.NewStore
	}{
		{"memory", func(t *testing.T, clock func() time.Time) storage.Storage {
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()))
		}},
		{"sqlite", func(t *testing.T, clock func() time.Time) storage.Storage {
			return gormMaker(t, testenv.SQLite(t), clock)
		}},
		{"ferretdb", func(t *testing.T, clock func() time.Time) storage.Storage {
			s, err := mongostore.New(context.Background(), mongoenv.FerretDB(t), mongostore.WithClock(clock), mongostore.WithHasher(secret.ForTests()))
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
		{"redis", redisMaker},
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
