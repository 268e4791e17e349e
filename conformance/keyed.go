package conformance

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// NewKeyedStore is a [NewStore] for a store with keyed digests: the store
// it returns keys codes and tokens by their digests under keys (see
// [secret.Keyed]), writing under the current key and looking up under
// every key, current first, and it reads keys on every call, so that a
// rotation with [secret.Keyed.SetKeys] takes effect at once.
type NewKeyedStore func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage

// NewStoreWithMinLength is a [NewStore] for a store that offers a minimum
// credential length: the store it returns rejects, with
// [storage.ErrInvalid], a code or token shorter than minLen bytes.
type NewStoreWithMinLength func(t *testing.T, clock func() time.Time, minLen int) storage.Storage

// keyedGroups are the groups of [Run] in which digests matter: RunKeyed
// runs them again on a keyed store.
var keyedGroups = []string{"Code", "Token", "Grant", "Purge", "Secrets"}

// RunKeyed tests a store with keyed digests: the groups of [Run] that store
// and look up codes and tokens (Code, Token, Grant, Purge, Secrets) on a
// store with one key, then key rotation (group KeyRotation): records
// written under an older key are still found, consumed, rotated, revoked
// and deleted, exactly once under concurrency; new records are written
// under the current key; a retired key's records are no longer found. A
// [RawDumper] store must persist the keyed digests and never the unkeyed
// [secret.Digest] of a credential. Call it in addition to [Run].
func RunKeyed(t *testing.T, newStore NewKeyedStore) {
	t.Helper()
	if newStore == nil {
		t.Fatal("conformance.RunKeyed: nil NewKeyedStore")
	}
	seed := suiteSeed(t)
	t.Logf("conformance: seed %d (set %s=%d to repeat)", seed, SeedEnv, seed)
	for _, g := range groups() {
		if !slices.Contains(keyedGroups, g.name) {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newKeyedHarness(t, newStore, caseSeed(seed, "Keyed/"+g.name+"/"+c.name)))
				})
			}
		})
	}
	t.Run("KeyRotation", func(t *testing.T) {
		for _, c := range []testCase{
			{"OlderKeyStillFound", testKeyOlderStillFound},
			{"WritesUseCurrentKey", testKeyWritesUseCurrent},
			{"ConcurrentAcrossRotation", testKeyConcurrentAcrossRotation},
		} {
			t.Run(c.name, func(t *testing.T) {
				c.run(newKeyedHarness(t, newStore, caseSeed(seed, "KeyRotation/"+c.name)))
			})
		}
	})
}

// newKeyedHarness is newHarness for a keyed store whose keys, one random
// key to begin with, the harness holds.
func newKeyedHarness(t *testing.T, newStore NewKeyedStore, seed uint64) *harness {
	t.Helper()
	var keys *secret.Keyed
	h := newHarness(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return newStore(t, clock, keys)
	}, seed, func(h *harness) {
		k, err := secret.NewKeyed(h.key())
		if err != nil {
			t.Fatalf("secret.NewKeyed: %v", err)
		}
		keys = k
		h.keys = k
	})
	return h
}

// key returns a new random digest key.
func (h *harness) key() []byte {
	k := make([]byte, secret.MinKeyLen)
	for i := range k {
		k[i] = byte(h.rng.UintN(256))
	}
	return k
}

// setKeys rotates the store's keys, stopping the subtest on error.
func (h *harness) setKeys(current []byte, older ...[]byte) {
	h.t.Helper()
	if err := h.keys.SetKeys(current, older...); err != nil {
		h.t.Fatalf("secret.Keyed.SetKeys: %v", err)
	}
}

// keyedRecords is a code and a token pair created under one key.
type keyedRecords struct {
	code *models.AuthorizationCode
	tok  *models.Token
}

func (h *harness) keyedRecords(clientID string) keyedRecords {
	r := keyedRecords{code: h.newCode(clientID), tok: h.newToken(clientID, true)}
	h.createCode(r.code)
	h.createToken(r.tok)
	return r
}

// found checks that every lookup finds the records.
func (h *harness) found(r keyedRecords) {
	h.t.Helper()
	h.expectCode(r.code)
	h.expectAccess(r.tok)
	h.expectRefresh(r.tok)
}

// gone checks that no lookup finds the records.
func (h *harness) gone(r keyedRecords, when string) {
	h.t.Helper()
	h.codeErr(r.code.Code, storage.ErrNotFound, when)
	h.accessErr(r.tok.AccessToken, storage.ErrNotFound, when)
	h.refreshErr(r.tok.RefreshToken, storage.ErrNotFound, when)
}

// Every operation finds a record written under a key that is no longer
// current but still listed.
func testKeyOlderStillFound(h *harness) {
	a, b := h.key(), h.key()
	h.setKeys(a)
	client := h.id("client")
	kept := h.keyedRecords(client)
	consumed := h.newCode(client)
	h.createCode(consumed)
	deleted := h.newCode(client)
	h.createCode(deleted)
	rotated := h.newToken(client, true)
	h.createToken(rotated)
	revoked := h.newToken(client, true)
	h.createToken(revoked)

	h.setKeys(b, a)
	h.found(kept)
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, consumed.Code)
	h.must(err, "ConsumeAuthorizationCode of a code written under the older key")
	h.checkCode("ConsumeAuthorizationCode of a code written under the older key", got, storedCode(consumed))
	h.consumeErr(consumed.Code, storage.ErrAlreadyUsed, "of a code written under the older key, consumed")
	h.must(h.s.DeleteAuthorizationCode(h.ctx, deleted.Code), "DeleteAuthorizationCode of a code written under the older key")
	h.codeErr(deleted.Code, storage.ErrNotFound, "of a code written under the older key, deleted")

	g := h.grantOf(rotated)
	next := h.successor(rotated)
	h.rotate(rotated.RefreshToken, next, "of a pair written under the older key")
	h.expectAccess(inGrant(next, g))
	h.refreshErr(rotated.RefreshToken, storage.ErrRevoked, "of a pair written under the older key, rotated")
	h.rotateErr(rotated.RefreshToken, h.successor(rotated), storage.ErrRevoked, "replaying a refresh token written under the older key")
	h.accessErr(next.AccessToken, storage.ErrRevoked, "of the successor, after the replay of its predecessor's refresh token")

	h.must(h.s.RevokeToken(h.ctx, revoked.AccessToken), "RevokeToken of a pair written under the older key")
	h.accessErr(revoked.AccessToken, storage.ErrRevoked, "of a pair written under the older key, revoked")
	h.refreshErr(revoked.RefreshToken, storage.ErrRevoked, "of a pair written under the older key, revoked")
}

// Records written after a rotation are under the new key: once the older
// key is retired they are still found and the older records are not; with
// the older key alone it is the other way round.
func testKeyWritesUseCurrent(h *harness) {
	a, b := h.key(), h.key()
	h.setKeys(a)
	client := h.id("client")
	old := h.keyedRecords(client)
	h.setKeys(b, a)
	cur := h.keyedRecords(client)
	h.found(old)
	h.found(cur)
	h.checkDumpKeyed(a, b, old, cur)

	h.setKeys(b)
	h.found(cur)
	h.gone(old, "of a record written under a retired key")
	h.consumeErr(old.code.Code, storage.ErrNotFound, "of a code written under a retired key")
	h.rotateErr(old.tok.RefreshToken, h.successor(old.tok), storage.ErrNotFound, "of a refresh token written under a retired key")
	h.wantErr(h.s.RevokeToken(h.ctx, old.tok.AccessToken), storage.ErrNotFound, "RevokeToken of a token written under a retired key")

	h.setKeys(a)
	h.found(old)
	h.gone(cur, "of a record written under a key no longer listed")
}

// checkDumpKeyed checks, if the store is a RawDumper, that old's
// credentials are persisted under key a and cur's under key b, and no
// credential under its unkeyed digest.
func (h *harness) checkDumpKeyed(a, b []byte, old, cur keyedRecords) {
	h.t.Helper()
	dumper, ok := h.s.(RawDumper)
	if !ok {
		return
	}
	raw, err := dumper.DumpRaw(h.ctx)
	h.must(err, "DumpRaw")
	ka, err := secret.NewKeyed(a)
	h.must(err, "secret.NewKeyed")
	kb, err := secret.NewKeyed(b)
	h.must(err, "secret.NewKeyed")
	for _, c := range []struct {
		r    keyedRecords
		k    *secret.Keyed
		name string
	}{{old, ka, "the older key"}, {cur, kb, "the current key"}} {
		for _, v := range []string{c.r.code.Code, c.r.tok.AccessToken, c.r.tok.RefreshToken} {
			if !bytes.Contains(raw, []byte(c.k.Digest(v))) {
				h.t.Errorf("DumpRaw does not contain the digest under %s of a credential written while it was current", c.name)
			}
			if bytes.Contains(raw, []byte(secret.Digest(v))) {
				h.t.Errorf("DumpRaw contains the unkeyed SHA-256 digest of a credential: a keyed store must persist keyed digests only")
			}
		}
	}
}

// Concurrent consumptions of a code, and rotations of a refresh token,
// written under an older key have exactly one winner.
func testKeyConcurrentAcrossRotation(h *harness) {
	const callers = 16
	a, b := h.key(), h.key()
	h.setKeys(a)
	client := h.id("client")
	c := h.newCode(client)
	h.createCode(c)
	tok := h.newToken(client, true)
	h.createToken(tok)
	nexts := make([]*models.Token, callers)
	for i := range nexts {
		nexts[i] = h.successor(tok)
	}
	h.setKeys(b, a)

	consumeErrs := make([]error, callers)
	rotateErrs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			_, consumeErrs[i] = h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
			rotateErrs[i] = h.s.RotateToken(h.ctx, tok.RefreshToken, nexts[i])
		})
	}
	close(start)
	wg.Wait()
	for _, r := range []struct {
		what string
		errs []error
		lose error
	}{
		{"ConsumeAuthorizationCode of a code written under the older key", consumeErrs, storage.ErrAlreadyUsed},
		{"RotateToken of a refresh token written under the older key", rotateErrs, storage.ErrRevoked},
	} {
		wins := 0
		for _, err := range r.errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, r.lose):
				h.t.Errorf("%s by %d callers at once: a loser got %q, want %s", r.what, callers, h.errString(err), sentinelName(r.lose))
			}
		}
		if wins != 1 {
			h.t.Errorf("%s by %d callers at once: %d succeeded, want exactly 1", r.what, callers, wins)
		}
	}
}

// RunMinCredentialLength tests the minimum credential length of a store
// that offers one: codes and tokens (access and refresh) of exactly the
// minimum are accepted; one byte shorter, CreateAuthorizationCode,
// CreateToken and RotateToken fail with [storage.ErrInvalid], write
// nothing, and leave a rotated pair live. Call it in addition to [Run].
func RunMinCredentialLength(t *testing.T, newStore NewStoreWithMinLength) {
	t.Helper()
	if newStore == nil {
		t.Fatal("conformance.RunMinCredentialLength: nil NewStoreWithMinLength")
	}
	seed := suiteSeed(t)
	t.Logf("conformance: seed %d (set %s=%d to repeat)", seed, SeedEnv, seed)
	for _, c := range []testCase{
		{"Code", testMinLenCode},
		{"Token", testMinLenToken},
		{"Rotate", testMinLenRotate},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(newHarness(t, func(t *testing.T, clock func() time.Time) storage.Storage {
				return newStore(t, clock, minCredentialLen)
			}, caseSeed(seed, "MinCredentialLength/"+c.name)))
		})
	}
}

// minCredentialLen is the minimum RunMinCredentialLength asks for.
const minCredentialLen = 40

// credOfLen returns a new random credential of exactly n bytes.
func (h *harness) credOfLen(kind string, n int) string {
	v := h.randString(n)
	h.creds = append(h.creds, credential{kind, v})
	return v
}

func testMinLenCode(h *harness) {
	client := h.id("client")
	short := h.newCode(client)
	short.Code = h.credOfLen("authorization code", minCredentialLen-1)
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, short), storage.ErrInvalid, "CreateAuthorizationCode of a code of %d bytes, under the minimum of %d", minCredentialLen-1, minCredentialLen)
	h.codeErr(short.Code, storage.ErrNotFound, "of a code rejected as too short")
	ok := h.newCode(client)
	ok.Code = h.credOfLen("authorization code", minCredentialLen)
	h.createCode(ok)
	h.expectCode(ok)
}

func testMinLenToken(h *harness) {
	client := h.id("client")
	for _, c := range []struct {
		what string
		set  func(tok *models.Token, v string)
	}{
		{"access", func(tok *models.Token, v string) { tok.AccessToken = v }},
		{"refresh", func(tok *models.Token, v string) { tok.RefreshToken = v }},
	} {
		short := h.newToken(client, true)
		c.set(short, h.credOfLen(c.what+" token", minCredentialLen-1))
		h.wantErr(h.s.CreateToken(h.ctx, short), storage.ErrInvalid, "CreateToken with a %s token of %d bytes, under the minimum of %d", c.what, minCredentialLen-1, minCredentialLen)
		h.notWritten(short, "as too short")
		ok := h.newToken(client, true)
		c.set(ok, h.credOfLen(c.what+" token", minCredentialLen))
		h.createToken(ok)
		h.expectAccess(ok)
		h.expectRefresh(ok)
	}
}

func testMinLenRotate(h *harness) {
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	for _, c := range []struct {
		what string
		set  func(tok *models.Token, v string)
	}{
		{"access", func(tok *models.Token, v string) { tok.AccessToken = v }},
		{"refresh", func(tok *models.Token, v string) { tok.RefreshToken = v }},
	} {
		next := h.successor(old)
		c.set(next, h.credOfLen(c.what+" token", minCredentialLen-1))
		h.rotateErr(old.RefreshToken, next, storage.ErrInvalid, "to a pair whose "+c.what+" token is under the minimum length")
		h.notWritten(next, "as too short")
		h.expectRefresh(old)
	}
	h.rotate(old.RefreshToken, h.successor(old), "to a pair of long enough tokens")
}
