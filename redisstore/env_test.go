package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/internal/testenv/testreq"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
)

// AddrEnv names the variable giving the address (host:port) of a Redis or
// Valkey server for the tests. Each test works under a key prefix of its
// own and deletes its keys when it ends; nothing else on the server is
// touched.
const AddrEnv = "OAUTHSTORE_TEST_REDIS_ADDR"

// target is where a test's store lives.
type target struct {
	name string
	// client returns a client to the target's server for t, and the
	// embedded server if the target is miniredis (nil otherwise).
	client func(t testing.TB) (redis.UniversalClient, *miniredis.Miniredis)
}

// embedded is a miniredis server started for each test: the fallback that
// runs without any server. Its scripts run on gopher-lua, one at a time
// under the server's lock, as Redis runs them.
var embedded = target{"miniredis", func(t testing.TB) (redis.UniversalClient, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c, m
}}

var shared struct {
	once sync.Once
	rdb  *redis.Client
	err  error
}

// server is the server at AddrEnv. Without the variable the test is
// skipped, even under OAUTHSTORE_TEST_REQUIRE=all (the embedded server
// stands in); with it, a server that does not answer skips the test, or
// fails it under OAUTHSTORE_TEST_REQUIRE=all.
var server = target{"server", func(t testing.TB) (redis.UniversalClient, *miniredis.Miniredis) {
	t.Helper()
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		t.Skipf("no Redis server: set %s (host:port) to test against one; the embedded miniredis tests run without it", AddrEnv)
	}
	shared.once.Do(func() {
		// Enough connections for the 64 concurrent callers of the
		// conformance suite.
		shared.rdb = redis.NewClient(&redis.Options{Addr: addr, PoolSize: 80})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shared.err = shared.rdb.Ping(ctx).Err()
	})
	if shared.err != nil {
		testreq.Unavailable(t, "Redis", AddrEnv, fmt.Sprintf("%s: %v", addr, shared.err))
	}
	return shared.rdb, nil
}}

var targets = []target{embedded, server}

// isolatedPrefix returns a key prefix no other test uses, and deletes
// every key under it when t ends.
func isolatedPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "oauthstore-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		keys, err := scanKeys(ctx, rdb, "{"+prefix+"}:")
		if err == nil && len(keys) > 0 {
			err = rdb.Unlink(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test's keys: %v", err)
		}
	})
	return prefix
}

// scanKeys returns, sorted, the names of every key that starts with
// prefix (which holds no glob character).
func scanKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	slices.Sort(keys)
	return slices.Compact(keys), iter.Err()
}

// fixture is a store on a target, with what the tests look at.
type fixture struct {
	*redisstore.Store
	rdb  redis.UniversalClient
	mini *miniredis.Miniredis // nil on a real server
}

// newFixture returns a store on tg under a fresh prefix, on clock, with
// a fast hasher.
func newFixture(t testing.TB, tg target, clock func() time.Time, opts ...redisstore.Option) *fixture {
	t.Helper()
	rdb, mini := tg.client(t)
	opts = append([]redisstore.Option{
		redisstore.WithClock(clock), redisstore.WithHasher(secret.ForTests()),
		redisstore.WithKeyPrefix(isolatedPrefix(t, rdb)),
	}, opts...)
	s, err := redisstore.New(t.Context(), rdb, opts...)
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	return &fixture{Store: s, rdb: rdb, mini: mini}
}

// DumpRaw implements conformance.RawDumper: every key of the store, with
// its type, its TTL and its value as text (strings as stored, hash fields,
// set members and sorted set members with their scores, each sorted).
func (f *fixture) DumpRaw(ctx context.Context) ([]byte, error) {
	keys, err := scanKeys(ctx, f.rdb, f.KeyPrefix())
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, k := range keys {
		typ, err := f.rdb.Type(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		ttl, err := f.rdb.PTTL(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s %s ttl=%v\n", typ, k, ttl)
		var lines []string
		switch typ {
		case "string":
			v, err := f.rdb.Get(ctx, k).Result()
			if err != nil && err != redis.Nil {
				return nil, err
			}
			lines = []string{v}
		case "hash":
			m, err := f.rdb.HGetAll(ctx, k).Result()
			if err != nil {
				return nil, err
			}
			for field, v := range m {
				lines = append(lines, field+" = "+v)
			}
		case "set":
			if lines, err = f.rdb.SMembers(ctx, k).Result(); err != nil {
				return nil, err
			}
		case "zset":
			zs, err := f.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return nil, err
			}
			for _, z := range zs {
				lines = append(lines, fmt.Sprintf("%.0f %s", z.Score, z.Member))
			}
		case "none": // deleted since the scan
		default:
			return nil, fmt.Errorf("key %s of unexpected type %s", k, typ)
		}
		slices.Sort(lines)
		for _, l := range lines {
			fmt.Fprintf(&b, "\t%s\n", l)
		}
	}
	return []byte(b.String()), nil
}
