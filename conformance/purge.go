package conformance

import (
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var purgeTests = []testCase{
	{"Empty", testPurgeEmpty},
	{"Codes", testPurgeCodes},
	{"Tokens", testPurgeTokens},
	{"KeepsLiveRefresh", testPurgeKeepsLiveRefresh},
	{"KeepsRevoked", testPurgeKeepsRevoked},
	{"KeepsClients", testPurgeKeepsClients},
	{"Counts", testPurgeCounts},
}

func testPurgeEmpty(h *harness) {
	h.purge(0, "of an empty store")
	h.createClient(h.newClient(true))
	h.createCode(h.newCode(h.id("client")))
	h.createToken(h.newToken(h.id("client"), true))
	h.purge(0, "with nothing expired")
}

// Codes are purged one millisecond after they expire, used or not; the
// count is exact and a second purge deletes nothing.
func testPurgeCodes(h *harness) {
	clientID := h.id("client")
	code := func(lifetime time.Duration, consume bool) *models.AuthorizationCode {
		c := h.newCode(clientID)
		c.ExpiresIn = lifetime
		h.createCode(c)
		if consume {
			_, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
			h.must(err, "ConsumeAuthorizationCode")
		}
		return c
	}
	t0 := h.now()
	shortUnused, shortUsed := code(time.Minute, false), code(time.Minute, true)
	longUnused, longUsed := code(10*time.Minute, false), code(10*time.Minute, true)

	h.setClock(t0.Add(time.Minute))
	h.purge(0, "at the instant two codes expire")
	h.setClock(t0.Add(time.Minute + time.Millisecond))
	h.purge(2, "after an unused and a used code expired")
	h.purge(0, "a second time")
	h.codeErr(shortUnused.Code, storage.ErrNotFound, "of a purged unused code")
	h.codeErr(shortUsed.Code, storage.ErrNotFound, "of a purged used code")
	h.consumeErr(shortUnused.Code, storage.ErrNotFound, "of a purged unused code")
	h.expectCode(longUnused)
	h.codeErr(longUsed.Code, storage.ErrAlreadyUsed, "of a used code that has not expired, after a purge")

	h.setClock(t0.Add(10*time.Minute + time.Millisecond))
	h.purge(2, "after the other two codes expired")
	h.codeErr(longUnused.Code, storage.ErrNotFound, "of a purged unused code")
	h.codeErr(longUsed.Code, storage.ErrNotFound, "of a purged used code")
	h.purge(0, "of a store with only purged codes")
}

// Tokens are purged one millisecond after both their lifetimes ended,
// revoked or not.
func testPurgeTokens(h *harness) {
	clientID := h.id("client")
	token := func(access, refresh time.Duration, revoke bool) *models.Token {
		tok := h.newToken(clientID, refresh > 0)
		tok.ExpiresIn, tok.RefreshTokenExpiresIn = access, refresh
		h.createToken(tok)
		if revoke {
			h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token)")
		}
		return tok
	}
	t0 := h.now()
	accessOnly := token(time.Minute, 0, false)
	withRefresh := token(time.Minute, 5*time.Minute, false)
	revoked := token(time.Minute, 5*time.Minute, true)
	revokedAccessOnly := token(10*time.Minute, 0, true)
	long := token(10*time.Minute, 20*time.Minute, false)

	h.setClock(t0.Add(time.Minute))
	h.purge(0, "at the instant three access tokens expire")
	h.setClock(t0.Add(time.Minute + time.Millisecond))
	h.purge(1, "after a token without refresh token expired")
	h.purge(0, "a second time")
	h.accessErr(accessOnly.AccessToken, storage.ErrNotFound, "of a purged token")
	h.accessErr(withRefresh.AccessToken, storage.ErrExpired, "of a token whose refresh token is live")
	h.expectRefresh(withRefresh)
	h.revokedPair(revoked, "a purge that must keep a revoked token with a live refresh token")
	h.revokedPair(revokedAccessOnly, "a purge that must keep a revoked, unexpired token")
	h.expectAccess(long)

	h.setClock(t0.Add(5*time.Minute + time.Millisecond))
	h.purge(2, "after two refresh tokens expired")
	for _, tok := range []*models.Token{withRefresh, revoked} {
		h.accessErr(tok.AccessToken, storage.ErrNotFound, "of a purged token")
		h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "of a purged token")
		h.wantErr(h.s.RevokeToken(h.ctx, tok.RefreshToken), storage.ErrNotFound, "RevokeToken of a purged token")
	}
	h.setClock(t0.Add(10*time.Minute + time.Millisecond))
	h.purge(1, "after a revoked token without refresh token expired")
	h.accessErr(revokedAccessOnly.AccessToken, storage.ErrNotFound, "of a purged revoked token")
	h.expectRefresh(long)
	h.setClock(t0.Add(20*time.Minute + time.Millisecond))
	h.purge(1, "after the last token expired")
	h.accessErr(long.AccessToken, storage.ErrNotFound, "of a purged token")
	h.refreshErr(long.RefreshToken, storage.ErrNotFound, "of a purged token")
	h.purge(0, "of a store with only purged tokens")
}

// A token whose access token expired but whose refresh token is live is
// kept: the refresh token must go on working.
func testPurgeKeepsLiveRefresh(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.advance(time.Hour + time.Minute)
	h.purge(0, "with a token whose access token expired and refresh token is live")
	h.expectRefresh(tok)
	h.accessErr(tok.AccessToken, storage.ErrExpired, "of an expired access token whose refresh token is live, after a purge")
	h.advance(24 * time.Hour)
	h.purge(1, "after the refresh token expired too")
	h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "of a purged token")
}

// A revoked, unexpired token is kept, so that replaying it is still told
// apart as revoked.
func testPurgeKeepsRevoked(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.must(h.s.RevokeToken(h.ctx, tok.RefreshToken), "RevokeToken(refresh token)")
	h.purge(0, "with a revoked, unexpired token")
	h.revokedPair(tok, "a purge that must keep a revoked, unexpired token")
	h.advance(24*time.Hour + time.Millisecond)
	h.purge(1, "after the revoked token expired")
	h.accessErr(tok.AccessToken, storage.ErrNotFound, "of a purged revoked token")
}

// Clients are never purged.
func testPurgeKeepsClients(h *harness) {
	public, confidential := h.newClient(false), h.newClient(true)
	h.createClient(public)
	h.createClient(confidential)
	h.createCode(h.newCode(confidential.ClientID))
	h.createToken(h.newToken(confidential.ClientID, true))
	h.advance(100 * 365 * 24 * time.Hour)
	h.purge(2, "a century later, with one code and one token")
	h.expectClient(public)
	h.expectClient(confidential)
	_, err := h.s.AuthenticateClient(h.ctx, confidential.ClientID, confidential.ClientSecret)
	h.must(err, "AuthenticateClient after a purge")
}

// The count covers every code and token of every client.
func testPurgeCounts(h *harness) {
	p := h.population(3, false)
	p[0].consumeFirstCode(h)
	p[1].revokeFirstToken(h)
	h.purge(0, "with nothing expired")
	h.advance(24*time.Hour + time.Millisecond)
	h.purge(int64(len(p)*2*perMember), "after every code and token expired")
	h.purge(0, "a second time")
	for _, m := range p {
		m.expectGone(h, "after a purge")
	}
}
