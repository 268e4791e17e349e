package memstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// dumpable lets the conformance suite read everything the store holds.
type dumpable struct{ *Store }

// DumpRaw renders every client, code and token record, with its map keys,
// as text.
func (d dumpable) DumpRaw(ctx context.Context) ([]byte, error) {
	var b strings.Builder
	d.clientsMu.RLock()
	for id, c := range d.clients {
		fmt.Fprintf(&b, "client %q %+v\n", id, c.client)
	}
	d.clientsMu.RUnlock()
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.RLock()
		for k, c := range sh.codes {
			fmt.Fprintf(&b, "code %x %+v used=%t\n", k, c.code, c.used.Load())
		}
		for k, t := range sh.access {
			fmt.Fprintf(&b, "access %x %+v refresh=%x revoked=%t\n", k, t.tok, t.refresh, t.revoked.Load())
		}
		for k := range sh.refresh {
			fmt.Fprintf(&b, "refresh %x\n", k)
		}
		for g, r := range sh.grants {
			fmt.Fprintf(&b, "grant %q tokens=%d codes=%d\n", g, len(r.tokens), len(r.codes))
		}
		sh.mu.RUnlock()
	}
	return []byte(b.String()), nil
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return dumpable{New(WithClock(clock), WithHasher(secret.ForTests()))}
	})
}

func TestConformanceKeyed(t *testing.T) {
	conformance.RunKeyed(t, func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage {
		return dumpable{New(WithClock(clock), WithHasher(secret.ForTests()), WithDigestKeys(keys))}
	})
}

func TestConformanceMinCredentialLength(t *testing.T) {
	conformance.RunMinCredentialLength(t, func(t *testing.T, clock func() time.Time, n int) storage.Storage {
		return New(WithClock(clock), WithHasher(secret.ForTests()), WithMinCredentialLength(n))
	})
}

func TestConformanceReuseInterval(t *testing.T) {
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		return New(WithClock(clock), WithHasher(secret.ForTests()), WithReuseInterval(interval))
	})
}
