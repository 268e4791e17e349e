package redisstore_test

import (
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// The conformance suite on the embedded miniredis (always) and on the
// server at OAUTHSTORE_TEST_REDIS_ADDR (when set), each store under a key
// prefix of its own.

func TestConformance(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.client(t) // skips the whole target if it is unavailable
			conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
				return newFixture(t, tg, clock)
			})
		})
	}
}

func TestConformanceReuseInterval(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.client(t)
			conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
				return newFixture(t, tg, clock, redisstore.WithReuseInterval(interval))
			})
		})
	}
}

func TestConformanceKeyed(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.client(t)
			conformance.RunKeyed(t, func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage {
				return newFixture(t, tg, clock, redisstore.WithDigestKeys(keys))
			})
		})
	}
}

func TestConformanceMinCredentialLength(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg.client(t)
			conformance.RunMinCredentialLength(t, func(t *testing.T, clock func() time.Time, n int) storage.Storage {
				return newFixture(t, tg, clock, redisstore.WithMinCredentialLength(n))
			})
		})
	}
}
