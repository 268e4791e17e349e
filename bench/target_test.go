package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/storage"
)

// A target is one implementation on one database: one value of /db and
// /impl in the benchmark names.
type target struct {
	db, impl string
	// scale: lookups and creates also run at n=1M when enabled.
	scale bool
	// fixture returns the implementation holding tokens 0..n-1 of the
	// sample's space, built once per test binary.
	fixture func(tb testing.TB, n int) *fixture
	// fresh, if set, returns a new such implementation for a round that
	// adds data (create, revoke, exchange). Otherwise the round uses the
	// shared fixture and removes what it added with fixture.release.
	fresh func(tb testing.TB, n int) *fixture
	// floors are the impl names of the other lookups on the same data
	// that GetByAccess compares the target with (hand-written floors, and
	// the target in another configuration); fixture.floors has one
	// function per name.
	floors []string
	// clients returns the target's client store holding benchClients,
	// their secrets hashed as hs says; nil if the target has none.
	clients func(tb testing.TB, hs hasherSpec) clientAuth
	// purger returns a store of the target holding purgeLive live tokens,
	// for BenchmarkPurge; nil if the target cannot purge.
	purger func(tb testing.TB) *purgeFixture
	// purgeRows is how many expired tokens one purge deletes; 0 means
	// purgeRows.
	purgeRows int
}

func (tg *target) sizes() []int {
	if tg.scale {
		return sizes()
	}
	return []int{small}
}

// fixture is a filled implementation.
type fixture struct {
	impl   tokens
	sample *sample
	// release deletes every code and token issued to clientID (ours:
	// DeleteClient); nil for fixtures that are thrown away instead.
	release func(ctx context.Context, clientID string) error
	// floors are the other lookups by access token on the same data, by
	// impl name.
	floors map[string]lookup
}

// lookup is a GetByAccess-like function: it returns the client ID of the
// stored token or errMiss.
type lookup func(ctx context.Context, access string) (string, error)

// round returns an implementation for a round that adds data, and the
// function to call when the round is done.
func (tg *target) round(tb testing.TB, n int) (*fixture, func(clientID string)) {
	tb.Helper()
	if tg.fresh != nil {
		return tg.fresh(tb, n), func(string) {}
	}
	f := tg.fixture(tb, n)
	return f, func(clientID string) {
		err := f.release(context.Background(), clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			tb.Fatalf("releasing round data: %v", err)
		}
	}
}

// forEach calls f for 0..n-1 from a few goroutines (the stores are safe
// for concurrent use, and filling is faster so) and returns the first error
// of each goroutine.
func forEach(n int, f func(i int) error) error { return forEachOf(4, n, f) }

// fillTokens stores tokens 0..n-1 of space through impl's create.
func fillTokens(ctx context.Context, impl tokens, space uint32, n int, clientID string) error {
	return forEach(n, func(i int) error {
		t := tokenAt(space, uint64(i), clientID)
		return impl.create(ctx, &t)
	})
}

// newFixture fills impl with n tokens of a new space through its create.
func newFixture(tb testing.TB, impl tokens, n int) *fixture {
	tb.Helper()
	space := newSpace()
	if err := fillTokens(context.Background(), impl, space, n, ""); err != nil {
		tb.Fatalf("filling %d tokens: %v", n, err)
	}
	return &fixture{impl: impl, sample: newSample(space, n)}
}

// memoryTargets are the in-memory stores: ours and the two peers.
func memoryTargets() []*target {
	mem := &target{db: "memory", impl: "memstore", scale: true, floors: []string{"sha256-map"}}
	mem.fixture = func(tb testing.TB, n int) *fixture {
		return once(tb, "memstore/"+sizeName(n), func(t testing.TB) *fixture {
			s := memstore.New()
			f := newFixture(t, ours{s}, n)
			f.release = s.DeleteClient
			f.floors = map[string]lookup{"sha256-map": newDigestMap(f.sample.space, n).get}
			return f
		})
	}
	mem.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
		return once(tb, "memstore/clients/"+hs.name, func(t testing.TB) clientAuth {
			return newOurClients(t, memstore.New(memstore.WithHasher(hs.h)))
		})
	}
	mem.purger = func(tb testing.TB) *purgeFixture {
		return newMemPurger(tb)
	}

	goo := &target{db: "memory", impl: "gooauth2-buntdb"}
	goo.fixture = func(tb testing.TB, n int) *fixture {
		return once(tb, "gooauth2/"+sizeName(n), func(t testing.TB) *fixture {
			return newFixture(t, newGooauth2(), n)
		})
	}
	goo.fresh = func(tb testing.TB, n int) *fixture { return newFixture(tb, newGooauth2(), n) }
	goo.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
		return newGooauth2Clients()
	}

	// fosite also runs at n=1M: its plain map shows what memory alone costs
	// at that size, next to memstore.
	fos := &target{db: "memory", impl: "fosite-memory", scale: true}
	fos.fixture = func(tb testing.TB, n int) *fixture {
		return once(tb, "fosite/"+sizeName(n), func(t testing.TB) *fixture {
			return newFixture(t, newFosite(), n)
		})
	}
	fos.fresh = func(tb testing.TB, n int) *fixture { return newFixture(tb, newFosite(), n) }
	fos.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
		return once(tb, "fosite/clients/"+hs.name, func(t testing.TB) clientAuth {
			return newFositeClients(t, hs)
		})
	}
	return []*target{mem, goo, fos}
}

// digestMap is memstore's floor: SHA-256 of the credential and one access
// to a plain Go map (no lock, no clock, no copy) from the digest to the
// token's client ID, holding the same n tokens as the memstore next to it.
type digestMap map[[sha256.Size]byte]string

func newDigestMap(space uint32, n int) digestMap {
	m := make(digestMap, n)
	for i := range n {
		t := tokenAt(space, uint64(i), "")
		m[sha256.Sum256([]byte(t.access))] = t.clientID
	}
	return m
}

// get is a lookup: the digest of a 43-byte credential is computed on the
// stack, as memstore does.
func (m digestMap) get(_ context.Context, access string) (string, error) {
	if len(access) != credLen {
		return "", errMiss
	}
	var buf [credLen]byte
	copy(buf[:], access)
	clientID, ok := m[sha256.Sum256(buf[:])]
	if !ok {
		return "", errMiss
	}
	return clientID, nil
}

// targets lists every target, in the order their columns appear.
func targets() []*target {
	var all []*target
	all = append(all, memoryTargets()...)
	all = append(all, sqlTargets()...)
	all = append(all, mongoTargets()...)
	all = append(all, redisTargets()...)
	return all
}
