package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
)

// Benchmarks run against the server at OAUTHSTORE_TEST_REDIS_ADDR, or the
// embedded miniredis without it (which measures miniredis, not Redis):
//
//	OAUTHSTORE_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench . -count 6 ./redisstore/
//
// BenchmarkFloorGET is the floor: one GET of a short string on the same
// client, the least a store operation can cost there.

// benchClient returns the client the benchmarks use.
func benchClient(b *testing.B) redis.UniversalClient {
	b.Helper()
	if os.Getenv(AddrEnv) != "" {
		rdb, _ := server.client(b)
		return rdb
	}
	b.Logf("%s is unset: measuring the embedded miniredis", AddrEnv)
	rdb, _ := embedded.client(b)
	return rdb
}

func benchStore(b *testing.B) (*redisstore.Store, redis.UniversalClient) {
	b.Helper()
	rdb := benchClient(b)
	now := time.Now()
	s, err := redisstore.New(b.Context(), rdb, redisstore.WithClock(func() time.Time { return now }),
		redisstore.WithHasher(secret.ForTests()), redisstore.WithKeyPrefix(isolatedPrefix(b, rdb)))
	if err != nil {
		b.Fatal(err)
	}
	return s, rdb
}

func benchToken(i int, now time.Time) *models.Token {
	n := strconv.Itoa(i)
	return &models.Token{
		AccessToken: "bench-access-" + n, RefreshToken: "bench-refresh-" + n,
		ClientID: "bench-client", Scope: "read write", UserID: "user-" + n,
		IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour,
	}
}

func BenchmarkFloorGET(b *testing.B) {
	b.ReportAllocs()
	rdb := benchClient(b)
	ctx := context.Background()
	key := "{" + isolatedPrefix(b, rdb) + "}:floor"
	if err := rdb.Set(ctx, key, "value", 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := rdb.Get(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetTokenByAccess(b *testing.B) {
	b.ReportAllocs()
	s, _ := benchStore(b)
	ctx := context.Background()
	const n = 1000
	now := time.Now()
	for i := range n {
		if err := s.CreateToken(ctx, benchToken(i, now)); err != nil {
			b.Fatal(err)
		}
	}
	access := make([]string, n)
	for i := range access {
		access[i] = "bench-access-" + strconv.Itoa(i)
	}
	i := 0
	for b.Loop() {
		if _, err := s.GetTokenByAccess(ctx, access[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCreateToken(b *testing.B) {
	b.ReportAllocs()
	s, _ := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	i := 0
	for b.Loop() {
		if err := s.CreateToken(ctx, benchToken(i, now)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRotateToken(b *testing.B) {
	b.ReportAllocs()
	s, _ := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	if err := s.CreateToken(ctx, benchToken(0, now)); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if err := s.RotateToken(ctx, "bench-refresh-"+strconv.Itoa(i), benchToken(i+1, now)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkConsumeAuthorizationCode(b *testing.B) {
	b.ReportAllocs()
	s, _ := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	// Codes are created outside the timer, a chunk at a time.
	const chunk = 1000
	i := 0
	for b.Loop() {
		if i%chunk == 0 {
			b.StopTimer()
			for j := i; j < i+chunk; j++ {
				err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
					Code: fmt.Sprint("bench-code-", j), ClientID: "bench-client", AuthTime: now, ExpiresIn: time.Hour,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		if _, err := s.ConsumeAuthorizationCode(ctx, fmt.Sprint("bench-code-", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
