package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// NewStoreWithReuseInterval is a [NewStore] for a store that offers a reuse
// interval: the store it returns gives [storage.TokenStore.RotateToken]
// that interval.
type NewStoreWithReuseInterval func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage

// reuseInterval is the interval RunReuseInterval asks for.
const reuseInterval = 30 * time.Second

// RunReuseInterval tests the reuse interval of a store that offers one
// (see [storage.TokenStore.RotateToken]): within the interval after a
// rotation, a replay of the rotated refresh token fails with
// [storage.ErrRevoked] and leaves the grant alone; after it, the replay
// revokes the grant; a pair revoked rather than rotated has no interval.
// Call it in addition to [Run], which tests the default, no interval.
func RunReuseInterval(t *testing.T, newStore NewStoreWithReuseInterval) {
	t.Helper()
	if newStore == nil {
		t.Fatal("conformance.RunReuseInterval: nil NewStoreWithReuseInterval")
	}
	seed := suiteSeed(t)
	t.Logf("conformance: seed %d (set %s=%d to repeat)", seed, SeedEnv, seed)
	for _, c := range []testCase{
		{"ReplayWithin", testReuseWithin},
		{"ConcurrentWithin", testReuseConcurrentWithin},
		{"RevokedHasNoInterval", testReuseRevokedNoInterval},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(newHarness(t, func(t *testing.T, clock func() time.Time) storage.Storage {
				return newStore(t, clock, reuseInterval)
			}, caseSeed(seed, "ReuseInterval/"+c.name)))
		})
	}
}

// A replay within the interval, its end included, fails and revokes
// nothing; one after it revokes the grant.
func testReuseWithin(h *harness) {
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	g := h.grantOf(old)
	legit := h.successor(old)
	h.rotate(old.RefreshToken, legit, "of a live pair")
	rotated := h.now()
	for _, at := range []time.Duration{0, time.Second, reuseInterval} {
		h.setClock(rotated.Add(at))
		retry := h.successor(old)
		h.rotateErr(old.RefreshToken, retry, storage.ErrRevoked, "replayed within the reuse interval")
		h.notWritten(retry, "within the reuse interval")
		h.expectAccess(inGrant(legit, g))
		h.expectRefresh(inGrant(legit, g))
	}
	h.setClock(rotated.Add(reuseInterval + time.Millisecond))
	late := h.successor(old)
	h.rotateErr(old.RefreshToken, late, storage.ErrRevoked, "replayed one millisecond after the reuse interval")
	h.notWritten(late, "after the reuse interval")
	h.revokedPair(legit, "a replay of the refresh token it replaced after the reuse interval")
}

// Within the interval, the losers of a race leave the winner's pair live.
func testReuseConcurrentWithin(h *harness) {
	const callers = 64
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	nexts := make([]*models.Token, callers)
	for i := range nexts {
		nexts[i] = h.successor(old)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			<-start
			errs[i] = h.s.RotateToken(h.ctx, old.RefreshToken, nexts[i])
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			h.expectAccess(inGrant(nexts[i], h.grantOf(nexts[i])))
			h.expectRefresh(inGrant(nexts[i], h.grantOf(nexts[i])))
		case !errors.Is(err, storage.ErrRevoked):
			h.t.Errorf("concurrent RotateToken: got error %q, want one matching storage.ErrRevoked", h.errString(err))
		default:
			h.notWritten(nexts[i], "for losing a concurrent rotation")
		}
	}
	if winners != 1 {
		h.t.Errorf("%d of %d concurrent RotateToken calls with one refresh token succeeded, want exactly 1", winners, callers)
	}
}

// The interval follows a rotation only: reusing a pair revoked by
// RevokeToken revokes the grant at once.
func testReuseRevokedNoInterval(h *harness) {
	pair, sibling, other, _ := h.siblings()
	h.must(h.s.RevokeToken(h.ctx, pair.RefreshToken), "RevokeToken")
	next := h.successor(pair)
	h.rotateErr(pair.RefreshToken, next, storage.ErrRevoked, "of a pair revoked by RevokeToken, at once")
	h.notWritten(next, "for reuse")
	h.revokedPair(sibling, "the reuse of a revoked (not rotated) refresh token of its grant")
	h.expectAccess(other)
}
