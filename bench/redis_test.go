package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
)

// redisAddr is the Redis or Valkey server the redis target runs on
// (OAUTHSTORE_TEST_REDIS_ADDR); without it, an embedded miniredis stands in
// so that the benchmarks still run (its numbers measure miniredis).
func redisAddr(tb testing.TB) string {
	if a := os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return miniredis.RunT(tb).Addr()
}

// redisTargets is redisstore, with a floor: one HGETALL of the token's
// hash on the raw client, which is all GetTokenByAccess sends.
func redisTargets() []*target {
	db := "miniredis"
	if os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR") != "" {
		db = "redis"
	}
	tg := &target{db: db, impl: "redisstore", floors: []string{"hgetall"}}
	open := func(t testing.TB, opts ...redisstore.Option) (*redisstore.Store, *redis.Client, string) {
		addr := redisAddr(t)
		rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
		prefix := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		t.Cleanup(func() {
			ctx := context.Background()
			var cursor uint64
			for {
				keys, next, err := rdb.Scan(ctx, cursor, "{"+prefix+"}*", 1000).Result()
				if err != nil {
					break
				}
				if len(keys) > 0 {
					_ = rdb.Del(ctx, keys...).Err()
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
			_ = rdb.Close()
		})
		s, err := redisstore.New(context.Background(), rdb, append([]redisstore.Option{redisstore.WithKeyPrefix(prefix)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return s, rdb, prefix
	}
	tg.fixture = func(tb testing.TB, n int) *fixture {
		return once(tb, "redisstore/"+sizeName(n), func(t testing.TB) *fixture {
			s, rdb, prefix := open(t)
			f := newFixture(t, ours{s}, n)
			f.release = s.DeleteClient
			f.floors = map[string]lookup{"hgetall": func(ctx context.Context, access string) (string, error) {
				m, err := rdb.HGetAll(ctx, "{"+prefix+"}:access:"+secret.Digest(access)).Result()
				if err != nil {
					return "", err
				}
				if len(m) == 0 {
					return "", errMiss
				}
				return m["client_id"], nil
			}}
			return f
		})
	}
	tg.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
		return once(tb, "redisstore/clients/"+hs.name, func(t testing.TB) clientAuth {
			s, _, _ := open(t, redisstore.WithHasher(hs.h))
			return newOurClients(t, s)
		})
	}
	return []*target{tg}
}
