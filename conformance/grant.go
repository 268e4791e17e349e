package conformance

import (
	"errors"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var grantTests = []testCase{
	{"AssignedOnCreate", testGrantAssigned},
	{"RoundTrip", testGrantRoundTrip},
	{"Rotate", testGrantRotate},
	{"RotateChain", testGrantRotateChain},
	{"RotateConcurrent", testGrantRotateConcurrent},
	{"ReuseAfterRotation", testGrantReuseAfterRotation},
	{"RevokeThenReuse", testGrantRevokeThenReuse},
	{"ReuseWhateverTheNextPair", testGrantReuseWhateverNext},
	{"RotateExpired", testGrantRotateExpired},
	{"RotateMismatch", testGrantRotateMismatch},
	{"RotateInvalid", testGrantRotateInvalid},
	{"RotateUnknown", testGrantRotateUnknown},
	{"CodeReplayRevokesGrant", testGrantCodeReplay},
	{"GetCodeIsPureRead", testGrantGetCodePure},
	{"RevokeGrant", testGrantRevokeGrant},
	{"RevokeGrantUnknown", testGrantRevokeGrantUnknown},
	{"ReuseDetectedUntilPurged", testGrantReuseUntilPurged},
}

// grantOf returns the GrantID the store gives tok, read by its access
// token; it stops the subtest if the token cannot be read.
func (h *harness) grantOf(tok *models.Token) string {
	h.t.Helper()
	got, err := h.s.GetTokenByAccess(h.ctx, tok.AccessToken)
	h.must(err, "GetTokenByAccess(token of client %q)", tok.ClientID)
	return got.GrantID
}

// successor returns a new pair for the client of old, without a GrantID,
// issued now: what a server hands RotateToken.
func (h *harness) successor(old *models.Token) *models.Token {
	next := h.newToken(old.ClientID, true)
	next.UserID = old.UserID
	next.Scope = old.Scope
	return next
}

// inGrant returns a copy of tok as it reads back once it belongs to
// grantID.
func inGrant(tok *models.Token, grantID string) *models.Token {
	out := *tok
	out.GrantID = grantID
	return &out
}

// rotate rotates refresh to next and stops the subtest on error.
func (h *harness) rotate(refresh string, next *models.Token, when string) {
	h.t.Helper()
	h.must(h.s.RotateToken(h.ctx, refresh, next), "RotateToken %s", when)
}

func (h *harness) rotateErr(refresh string, next *models.Token, want error, when string) {
	h.t.Helper()
	h.wantErr(h.s.RotateToken(h.ctx, refresh, next), want, "RotateToken %s (clock %s)", when, h.clock)
}

// notWritten checks that neither credential of a token rejected by
// CreateToken or RotateToken is stored.
func (h *harness) notWritten(tok *models.Token, when string) {
	h.t.Helper()
	if tok == nil {
		return
	}
	if tok.AccessToken != "" {
		h.accessErr(tok.AccessToken, storage.ErrNotFound, "of the access token of a pair rejected "+when)
	}
	if tok.RefreshToken != "" {
		h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "of the refresh token of a pair rejected "+when)
	}
}

// A code or token created without a GrantID gets a new random one, the
// same on every read; the caller's value is not modified.
func testGrantAssigned(h *harness) {
	clientID := h.id("client")
	seen := map[string]string{}
	distinct := func(id, what string) {
		h.t.Helper()
		if other, dup := seen[id]; dup {
			h.t.Errorf("%s got GrantID %q, already given to %s: each record created without one must get a new one", what, id, other)
		}
		seen[id] = what
	}
	for i := range 8 {
		c := h.newCode(clientID)
		h.createCode(c)
		if c.GrantID != "" {
			h.t.Fatalf("CreateAuthorizationCode set the GrantID of the caller's code: the caller's value must not be modified")
		}
		got, err := h.s.GetAuthorizationCode(h.ctx, c.Code)
		h.must(err, "GetAuthorizationCode")
		h.checkCode("GetAuthorizationCode of a code created without GrantID", got, storedCode(c))
		again, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
		h.must(err, "ConsumeAuthorizationCode")
		if again.GrantID != got.GrantID {
			h.t.Errorf("code %d: ConsumeAuthorizationCode returned GrantID %q, GetAuthorizationCode %q: every read returns the one assigned", i, again.GrantID, got.GrantID)
		}
		distinct(got.GrantID, "a code")
	}
	for i := range 8 {
		tok := h.newToken(clientID, i%2 == 0)
		h.createToken(tok)
		if tok.GrantID != "" {
			h.t.Fatalf("CreateToken set the GrantID of the caller's token: the caller's value must not be modified")
		}
		g := h.grantOf(tok)
		h.expectAccess(inGrant(tok, g))
		if tok.RefreshToken != "" {
			h.expectRefresh(inGrant(tok, g))
		}
		distinct(g, "a token")
	}
}

// A GrantID given at creation round-trips, and any number of codes and
// tokens may share one.
func testGrantRoundTrip(h *harness) {
	clientID := h.id("client")
	grant := "grant-" + h.randString(24)
	c := h.newCode(clientID)
	c.GrantID = grant
	h.createCode(c)
	h.expectCode(c)
	var toks []*models.Token
	for _, refresh := range []bool{true, false, true} {
		tok := h.newToken(clientID, refresh)
		tok.GrantID = grant
		h.createToken(tok)
		toks = append(toks, tok)
	}
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.checkCode("ConsumeAuthorizationCode", got, storedCode(c))
	for _, tok := range toks {
		h.expectAccess(tok)
		if tok.RefreshToken != "" {
			h.expectRefresh(tok)
		}
	}
}

// Rotation revokes the old pair and stores the new one in the old one's
// grant; the caller's next is not modified.
func testGrantRotate(h *harness) {
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	g := h.grantOf(old)
	next := h.successor(old)
	h.rotate(old.RefreshToken, next, "of a live pair")
	if next.GrantID != "" {
		h.t.Errorf("RotateToken set the GrantID of the caller's next pair: the caller's value must not be modified")
	}
	h.revokedPair(old, "RotateToken")
	h.expectAccess(inGrant(next, g))
	h.expectRefresh(inGrant(next, g))

	// A pair without a refresh token may follow: the grant then ends with
	// its access token.
	last := h.successor(next)
	last.RefreshToken, last.RefreshTokenExpiresIn = "", 0
	h.rotate(next.RefreshToken, last, "to a pair without refresh token")
	h.revokedPair(next, "RotateToken to a pair without refresh token")
	h.expectAccess(inGrant(last, g))
}

// A chain of rotations stays in one grant; an explicit GrantID equal to
// the old pair's is accepted; replaying a pair from the middle of the chain
// revokes all of it.
func testGrantRotateChain(h *harness) {
	first := h.newToken(h.id("client"), true)
	h.createToken(first)
	g := h.grantOf(first)
	chain := []*models.Token{first}
	for i := range 4 {
		prev := chain[len(chain)-1]
		next := h.successor(prev)
		if i == 2 {
			next.GrantID = g
		}
		h.rotate(prev.RefreshToken, next, "along a chain")
		chain = append(chain, next)
	}
	for _, tok := range chain[:len(chain)-1] {
		h.revokedPair(tok, "its rotation")
	}
	newest := chain[len(chain)-1]
	h.expectAccess(inGrant(newest, g))
	h.expectRefresh(inGrant(newest, g))
	stolen := h.successor(chain[1])
	h.rotateErr(chain[1].RefreshToken, stolen, storage.ErrRevoked, "with a refresh token rotated earlier in the chain")
	h.notWritten(stolen, "for reuse")
	h.revokedPair(newest, "the reuse of a refresh token rotated earlier in its chain")
}

// Of concurrent rotations of one refresh token exactly one succeeds; the
// others are reuses, so the winner's new pair ends up revoked too, and
// nothing of the losers' pairs is written.
func testGrantRotateConcurrent(h *harness) {
	const rounds, callers = 4, 64
	for round := range rounds {
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
				h.revokedPair(nexts[i], "the concurrent rotations it won against (each loser is a reuse)")
			case !errors.Is(err, storage.ErrRevoked):
				h.t.Errorf("round %d: concurrent RotateToken: got error %q, want one matching storage.ErrRevoked", round, h.errString(err))
			default:
				h.noLeak(err, "concurrent RotateToken")
				h.notWritten(nexts[i], "for losing a concurrent rotation")
			}
		}
		if winners != 1 {
			h.t.Errorf("round %d: %d of %d concurrent RotateToken calls with one refresh token succeeded, want exactly 1", round, winners, callers)
		}
		h.revokedPair(old, "the concurrent rotations")
		if h.t.Failed() {
			return
		}
	}
}

// siblings returns a pair of a grant and another token of the same grant
// (as a server issues when it gives a client a second access token), and a
// pair of another grant of the same client.
func (h *harness) siblings() (pair, sibling, other *models.Token, grant string) {
	h.t.Helper()
	clientID := h.id("client")
	pair = h.newToken(clientID, true)
	h.createToken(pair)
	grant = h.grantOf(pair)
	sibling = h.newToken(clientID, false)
	sibling.GrantID = grant
	h.createToken(sibling)
	other = h.newToken(clientID, true)
	h.createToken(other)
	return pair, sibling, other, grant
}

// Replaying a refresh token after its rotation revokes every token of the
// grant, the new pair included, and touches no other grant.
func testGrantReuseAfterRotation(h *harness) {
	pair, sibling, other, g := h.siblings()
	legit := h.successor(pair)
	h.rotate(pair.RefreshToken, legit, "of a live pair")
	h.expectAccess(inGrant(legit, g))
	stolen := h.successor(pair)
	h.rotateErr(pair.RefreshToken, stolen, storage.ErrRevoked, "with a refresh token already rotated (reuse)")
	h.notWritten(stolen, "for reuse")
	h.revokedPair(legit, "the reuse of the refresh token it replaced")
	h.revokedPair(sibling, "the reuse of a refresh token of its grant")
	h.expectAccess(other)
	h.expectRefresh(other)
	// Reuse is detected again, and the legitimate client's refresh token
	// is now revoked too.
	h.rotateErr(pair.RefreshToken, h.successor(pair), storage.ErrRevoked, "with a reused refresh token, a second time")
	h.rotateErr(legit.RefreshToken, h.successor(legit), storage.ErrRevoked, "with the newest refresh token of a grant revoked for reuse")
}

// Rotating a pair revoked by RevokeToken is a reuse too.
func testGrantRevokeThenReuse(h *harness) {
	pair, sibling, other, _ := h.siblings()
	h.must(h.s.RevokeToken(h.ctx, pair.AccessToken), "RevokeToken")
	h.expectAccess(sibling)
	next := h.successor(pair)
	h.rotateErr(pair.RefreshToken, next, storage.ErrRevoked, "of a pair revoked by RevokeToken")
	h.notWritten(next, "for reuse")
	h.revokedPair(sibling, "the reuse of a revoked refresh token of its grant")
	h.expectAccess(other)
	h.expectRefresh(other)
}

// Reuse is judged on the refresh token alone: a replay sent with a next
// pair of another client or grant still revokes the grant.
func testGrantReuseWhateverNext(h *harness) {
	pair, sibling, other, _ := h.siblings()
	h.rotate(pair.RefreshToken, h.successor(pair), "of a live pair")
	foreign := h.newToken(h.id("client"), true)
	foreign.GrantID = "grant-" + h.randString(24)
	h.rotateErr(pair.RefreshToken, foreign, storage.ErrRevoked, "of a rotated pair with a next pair of another client and grant (reuse)")
	h.notWritten(foreign, "for reuse")
	h.revokedPair(sibling, "the reuse of a refresh token of its grant, sent with a foreign next pair")
	h.expectAccess(other)
}

// An expired refresh token is ErrExpired and nothing changes; at the
// instant it expires it still rotates.
func testGrantRotateExpired(h *harness) {
	clientID := h.id("client")
	atExpiry, expired := h.newToken(clientID, true), h.newToken(clientID, true)
	h.createToken(atExpiry)
	h.createToken(expired)
	g := h.grantOf(atExpiry)
	sibling := h.newToken(clientID, false)
	sibling.GrantID = h.grantOf(expired)
	sibling.ExpiresIn = 72 * time.Hour
	h.createToken(sibling)
	issued := h.now()

	h.setClock(issued.Add(24 * time.Hour))
	next := h.successor(atExpiry)
	h.rotate(atExpiry.RefreshToken, next, "at the instant the refresh token expires")
	h.expectRefresh(inGrant(next, g))

	h.setClock(issued.Add(24*time.Hour + time.Millisecond))
	late := h.successor(expired)
	h.rotateErr(expired.RefreshToken, late, storage.ErrExpired, "one millisecond after the refresh token expired")
	h.notWritten(late, "for an expired refresh token")
	h.refreshErr(expired.RefreshToken, storage.ErrExpired, "after a rotation refused for expiry (it must not be revoked)")
	h.expectAccess(sibling)
}

// A next pair for another client or another grant is ErrInvalid and
// nothing changes.
func testGrantRotateMismatch(h *harness) {
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	g := h.grantOf(old)
	otherClient := h.successor(old)
	otherClient.ClientID = h.id("client")
	h.rotateErr(old.RefreshToken, otherClient, storage.ErrInvalid, "with a next pair for another client")
	h.notWritten(otherClient, "for another client")
	otherGrant := h.successor(old)
	otherGrant.GrantID = "grant-" + h.randString(24)
	h.rotateErr(old.RefreshToken, otherGrant, storage.ErrInvalid, "with a next pair of another grant")
	h.notWritten(otherGrant, "for another grant")
	h.expectAccess(inGrant(old, g))
	h.expectRefresh(inGrant(old, g))
	same := h.successor(old)
	same.GrantID = g
	h.rotate(old.RefreshToken, same, "with a next pair naming the old pair's grant")
	h.expectRefresh(same)
}

// A malformed next pair is ErrInvalid, a taken credential
// ErrAlreadyExists, and either way nothing changes.
func testGrantRotateInvalid(h *harness) {
	old := h.newToken(h.id("client"), true)
	h.createToken(old)
	g := h.grantOf(old)
	taken := h.newToken(h.id("client"), true)
	h.createToken(taken)
	h.rotateErr(old.RefreshToken, nil, storage.ErrInvalid, "with a nil next pair")
	for _, tc := range []struct {
		name   string
		mutate func(t *models.Token)
	}{
		{"an empty access token", func(t *models.Token) { t.AccessToken = "" }},
		{"a zero IssuedAt", func(t *models.Token) { t.IssuedAt = time.Time{} }},
		{"an access lifetime under a millisecond", func(t *models.Token) { t.ExpiresIn = 999 * time.Microsecond }},
		{"a refresh token without refresh lifetime", func(t *models.Token) { t.RefreshTokenExpiresIn = 0 }},
		{"a refresh token equal to its access token", func(t *models.Token) { t.RefreshToken = t.AccessToken }},
		{"Revoked set", func(t *models.Token) { t.Revoked = true }},
	} {
		next := h.successor(old)
		tc.mutate(next)
		h.rotateErr(old.RefreshToken, next, storage.ErrInvalid, "with a next pair with "+tc.name)
		h.notWritten(next, "for "+tc.name)
	}
	for _, tc := range []struct {
		name   string
		mutate func(t *models.Token)
	}{
		{"a taken access token", func(t *models.Token) { t.AccessToken = taken.AccessToken }},
		{"a taken refresh token", func(t *models.Token) { t.RefreshToken = taken.RefreshToken }},
		{"the old pair's refresh token", func(t *models.Token) { t.RefreshToken = old.RefreshToken }},
	} {
		next := h.successor(old)
		tc.mutate(next)
		h.rotateErr(old.RefreshToken, next, storage.ErrAlreadyExists, "with a next pair with "+tc.name)
		if next.AccessToken != taken.AccessToken {
			h.accessErr(next.AccessToken, storage.ErrNotFound, "of the access token of a pair rejected for "+tc.name)
		}
		if next.RefreshToken != taken.RefreshToken && next.RefreshToken != old.RefreshToken {
			h.refreshErr(next.RefreshToken, storage.ErrNotFound, "of the refresh token of a pair rejected for "+tc.name)
		}
	}
	h.expectAccess(inGrant(old, g))
	h.expectRefresh(inGrant(old, g))
	h.expectAccess(taken)
	h.expectRefresh(taken)
}

// Unknown, empty, access and purged tokens are ErrNotFound.
func testGrantRotateUnknown(h *harness) {
	live := h.newToken(h.id("client"), true)
	h.createToken(live)
	purged := h.newToken(h.id("client"), true)
	purged.ExpiresIn, purged.RefreshTokenExpiresIn = time.Minute, time.Minute
	h.createToken(purged)
	for _, tc := range []struct{ name, refresh string }{
		{"of an unknown refresh token", h.secret("refresh token")},
		{"of the empty refresh token", ""},
		{"of an access token", live.AccessToken},
	} {
		next := h.successor(live)
		h.rotateErr(tc.refresh, next, storage.ErrNotFound, tc.name)
		h.notWritten(next, tc.name)
	}
	h.advance(time.Hour)
	h.purge(1, "with one fully expired pair")
	next := h.successor(purged)
	h.rotateErr(purged.RefreshToken, next, storage.ErrNotFound, "of a purged refresh token")
	h.notWritten(next, "for a purged refresh token")
	h.expectRefresh(inGrant(live, h.grantOf(live)))
}

// exchange consumes a code, creates its token pair in the code's grant
// and returns the pair.
func (h *harness) exchange(c *models.AuthorizationCode) *models.Token {
	h.t.Helper()
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
	h.must(err, "ConsumeAuthorizationCode")
	tok := h.newToken(c.ClientID, true)
	tok.GrantID = got.GrantID
	h.createToken(tok)
	return tok
}

// A replayed code revokes every token of its grant, those refreshed from
// its tokens included, and no other grant's.
func testGrantCodeReplay(h *harness) {
	clientID := h.id("client")
	c, d := h.newCode(clientID), h.newCode(clientID)
	h.createCode(c)
	h.createCode(d)
	first := h.exchange(c)
	other := h.exchange(d)
	refreshed := h.successor(first)
	h.rotate(first.RefreshToken, refreshed, "of the pair issued from a code")
	extra := h.newToken(clientID, false)
	extra.GrantID = h.grantOf(refreshed)
	h.createToken(extra)

	h.consumeErr(c.Code, storage.ErrAlreadyUsed, "of a code already exchanged (replay)")
	h.revokedPair(refreshed, "the replay of the code of its grant")
	h.revokedPair(extra, "the replay of the code of its grant")
	h.expectAccess(other)
	h.expectRefresh(other)
	h.consumeErr(c.Code, storage.ErrAlreadyUsed, "of a replayed code, again")
	h.codeErr(d.Code, storage.ErrAlreadyUsed, "of another grant's code")
}

// GetAuthorizationCode of a used code is a pure read: it revokes nothing.
func testGrantGetCodePure(h *harness) {
	c := h.newCode(h.id("client"))
	h.createCode(c)
	tok := h.exchange(c)
	for range 2 {
		h.codeErr(c.Code, storage.ErrAlreadyUsed, "of an exchanged code")
	}
	h.expectAccess(tok)
	h.expectRefresh(tok)
}

// RevokeGrant revokes the grant's tokens and makes its unused codes
// unusable, touches no other grant, and is idempotent.
func testGrantRevokeGrant(h *harness) {
	clientID := h.id("client")
	grant, otherGrant := "grant-"+h.randString(24), "grant-"+h.randString(24)
	codeIn := func(g string) *models.AuthorizationCode {
		c := h.newCode(clientID)
		c.GrantID = g
		h.createCode(c)
		return c
	}
	used, unused, otherCode := codeIn(grant), codeIn(grant), codeIn(otherGrant)
	first := h.exchange(used)
	next := h.successor(first)
	h.rotate(first.RefreshToken, next, "of a pair of the grant")
	otherTok := h.newToken(clientID, true)
	otherTok.GrantID = otherGrant
	h.createToken(otherTok)

	h.must(h.s.RevokeGrant(h.ctx, grant), "RevokeGrant")
	h.revokedPair(next, "RevokeGrant of its grant")
	h.codeErr(unused.Code, storage.ErrAlreadyUsed, "of an unused code after RevokeGrant of its grant")
	h.consumeErr(unused.Code, storage.ErrAlreadyUsed, "of an unused code after RevokeGrant of its grant")
	h.expectCode(otherCode)
	h.expectAccess(otherTok)
	h.expectRefresh(otherTok)
	h.must(h.s.RevokeGrant(h.ctx, grant), "RevokeGrant of a revoked grant")
	h.revokedPair(next, "RevokeGrant twice")
}

// A grant of which nothing is stored is ErrNotFound, including once its
// records are purged.
func testGrantRevokeGrantUnknown(h *harness) {
	tok := h.newToken(h.id("client"), true)
	tok.ExpiresIn, tok.RefreshTokenExpiresIn = time.Minute, time.Minute
	h.createToken(tok)
	g := h.grantOf(tok)
	keep := h.newToken(h.id("client"), true)
	h.createToken(keep)
	h.wantErr(h.s.RevokeGrant(h.ctx, "grant-"+h.randString(24)), storage.ErrNotFound, "RevokeGrant of an unknown grant")
	h.wantErr(h.s.RevokeGrant(h.ctx, ""), storage.ErrNotFound, "RevokeGrant of the empty grant ID")
	h.advance(time.Hour)
	h.purge(1, "with one fully expired pair")
	h.wantErr(h.s.RevokeGrant(h.ctx, g), storage.ErrNotFound, "RevokeGrant of a grant whose records were purged")
	h.expectAccess(inGrant(keep, h.grantOf(keep)))
}

// A rotated pair is kept until its refresh lifetime ends, so its reuse is
// detected until then; once purged it is unknown.
func testGrantReuseUntilPurged(h *harness) {
	old := h.newToken(h.id("client"), true) // access 1h, refresh 24h
	h.createToken(old)
	next := h.successor(old)
	next.ExpiresIn, next.RefreshTokenExpiresIn = 2*time.Hour, 2*time.Hour
	h.rotate(old.RefreshToken, next, "of a live pair")
	issued := h.now()
	h.setClock(issued.Add(23 * time.Hour))
	h.purge(1, "with a rotated pair whose refresh lifetime goes on and a fully expired successor")
	h.refreshErr(old.RefreshToken, storage.ErrRevoked, "of a rotated pair before its refresh token expired")
	h.rotateErr(old.RefreshToken, h.successor(old), storage.ErrRevoked, "with a rotated refresh token a day later (reuse)")
	h.setClock(issued.Add(24*time.Hour + time.Millisecond))
	h.purge(1, "with the rotated pair's refresh lifetime over")
	h.rotateErr(old.RefreshToken, h.successor(old), storage.ErrNotFound, "with a purged refresh token")
}
