package memstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/models"
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
		for h, r := range sh.grants {
			nt, nc := grantLen(r)
			fmt.Fprintf(&b, "grant hash %x tokens=%d codes=%d\n", h, nt, nc)
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

// grantLen counts the tokens and codes of a grant's lists.
func grantLen(g grantRec) (tokens, codes int) {
	for t := g.tokens; t != nil; t = t.gnext {
		tokens++
	}
	for c := g.codes; c != nil; c = c.gnext {
		codes++
	}
	return tokens, codes
}

// Two grant IDs whose hashes collide share one grantRec: revoking one must
// leave the other's records alone, and a grant with no record of its own
// in the list is not found.
func TestGrantHashCollision(t *testing.T) {
	s := New()
	const h = 7
	a := &tokenRec{tok: models.Token{GrantID: "grant-a"}, gh: h}
	b := &tokenRec{tok: models.Token{GrantID: "grant-b"}, gh: h}
	c := &codeRec{code: models.AuthorizationCode{GrantID: "grant-b"}, gh: h}
	s.indexToken(a)
	s.indexToken(b)
	s.indexCode(c)
	sh := &s.shards[grantShard(h)]
	if !revokeIndexed(sh, h, "grant-b", true) {
		t.Fatal("grant-b not found")
	}
	if a.revoked.Load() || !b.revoked.Load() || !c.used.Load() {
		t.Fatalf("revoking grant-b: a revoked=%t, b revoked=%t, code used=%t; want false, true, true", a.revoked.Load(), b.revoked.Load(), c.used.Load())
	}
	if revokeIndexed(sh, h, "grant-c", true) {
		t.Fatal("grant-c, which has no record, was found")
	}
	s.unindexToken(b)
	s.unindexCode(c)
	s.unindexToken(a)
	if len(sh.grants) != 0 {
		t.Fatalf("%d grants left after unindexing every record", len(sh.grants))
	}
}
