package conformance

import (
	"strings"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var tokenTests = []testCase{
	{"CreateGet", testTokenCreateGet},
	{"DefaultTokenType", testTokenDefaultTokenType},
	{"WithoutRefresh", testTokenWithoutRefresh},
	{"SeveralWithoutRefresh", testTokenSeveralWithoutRefresh},
	{"CreateDuplicateAccess", testTokenCreateDuplicateAccess},
	{"CreateDuplicateRefresh", testTokenCreateDuplicateRefresh},
	{"CreateInvalid", testTokenCreateInvalid},
	{"Unknown", testTokenUnknown},
	{"CredentialsNotInterchangeable", testTokenCredentialsNotInterchangeable},
	{"LookupExact", testTokenLookupExact},
	{"ClientNotStored", testTokenClientNotStored},
	{"AccessExpiry", testTokenAccessExpiry},
	{"RefreshExpiry", testTokenRefreshExpiry},
	{"ExpiryTruncated", testTokenExpiryTruncated},
	{"ExpirySubMillisecond", testTokenExpirySubMillisecond},
	{"RevokeByAccess", testTokenRevokeByAccess},
	{"RevokeByRefresh", testTokenRevokeByRefresh},
	{"RevokeWithoutRefresh", testTokenRevokeWithoutRefresh},
	{"RevokeTwice", testTokenRevokeTwice},
	{"RevokeUnknown", testTokenRevokeUnknown},
	{"RevokeExpired", testTokenRevokeExpired},
	{"RevokedThenExpired", testTokenRevokedThenExpired},
	{"AccessEqualsOtherRefresh", testTokenAccessEqualsOtherRefresh},
}

// Every field round-trips, truncated to the millisecond in UTC; a token
// read by one credential carries it and an empty other one.
func testTokenCreateGet(h *harness) {
	tok := h.newToken(h.id("client"), true)
	loc := time.FixedZone("UTC-03:00", -3*3600)
	tok.IssuedAt = h.now().Add(-time.Minute + 654_321*time.Nanosecond).In(loc)
	tok.ExpiresIn = time.Hour + 999*time.Microsecond
	tok.RefreshTokenExpiresIn = 24*time.Hour + 1500*time.Microsecond
	tok.TokenType = "DPoP"
	h.createToken(tok)
	h.expectAccess(tok)
	h.expectRefresh(tok)
}

// An empty TokenType reads back as "Bearer".
func testTokenDefaultTokenType(h *harness) {
	tok := h.newToken(h.id("client"), true)
	tok.TokenType = ""
	h.createToken(tok)
	h.expectAccess(tok)
	h.expectRefresh(tok)
}

// A token without a refresh token cannot be found, revoked or confused by
// the empty refresh token.
func testTokenWithoutRefresh(h *harness) {
	tok := h.newToken(h.id("client"), false)
	h.createToken(tok)
	h.expectAccess(tok)
	h.refreshErr("", storage.ErrNotFound, "of the empty refresh token while a token without one is stored")
	h.wantErr(h.s.RevokeToken(h.ctx, ""), storage.ErrNotFound, "RevokeToken of the empty token while a token without a refresh token is stored")
	h.expectAccess(tok)
}

// Any number of tokens can lack a refresh token: the missing ones do not
// collide.
func testTokenSeveralWithoutRefresh(h *harness) {
	clientID := h.id("client")
	var toks []*models.Token
	for _, id := range []string{clientID, clientID, h.id("client")} {
		tok := h.newToken(id, false)
		h.createToken(tok)
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		h.expectAccess(tok)
	}
	h.refreshErr("", storage.ErrNotFound, "of the empty refresh token")
}

// A taken access token is ErrAlreadyExists and nothing of the rejected
// token is written: its new refresh token is unknown.
func testTokenCreateDuplicateAccess(h *harness) {
	orig := h.newToken(h.id("client"), true)
	h.createToken(orig)
	dup := h.newToken(h.id("client"), true)
	dup.AccessToken = orig.AccessToken
	h.wantErr(h.s.CreateToken(h.ctx, dup), storage.ErrAlreadyExists, "CreateToken with a taken access token")
	h.refreshErr(dup.RefreshToken, storage.ErrNotFound, "of the refresh token of a token rejected for its access token")
	h.wantErr(h.s.RevokeToken(h.ctx, dup.RefreshToken), storage.ErrNotFound, "RevokeToken of the refresh token of a rejected token")
	noRefresh := h.newToken(h.id("client"), false)
	noRefresh.AccessToken = orig.AccessToken
	h.wantErr(h.s.CreateToken(h.ctx, noRefresh), storage.ErrAlreadyExists, "CreateToken without refresh token with a taken access token")
	h.expectAccess(orig)
	h.expectRefresh(orig)
}

// A taken refresh token is ErrAlreadyExists and nothing of the rejected
// token is written: its new access token is unknown.
func testTokenCreateDuplicateRefresh(h *harness) {
	orig := h.newToken(h.id("client"), true)
	h.createToken(orig)
	dup := h.newToken(h.id("client"), true)
	dup.RefreshToken = orig.RefreshToken
	h.wantErr(h.s.CreateToken(h.ctx, dup), storage.ErrAlreadyExists, "CreateToken with a taken refresh token")
	h.accessErr(dup.AccessToken, storage.ErrNotFound, "of the access token of a token rejected for its refresh token")
	h.wantErr(h.s.RevokeToken(h.ctx, dup.AccessToken), storage.ErrNotFound, "RevokeToken of the access token of a rejected token")
	h.expectAccess(orig)
	h.expectRefresh(orig)
}

// Malformed tokens are ErrInvalid and nothing is written.
func testTokenCreateInvalid(h *harness) {
	cases := []struct {
		name   string
		mutate func(t *models.Token)
	}{
		{"empty client ID", func(t *models.Token) { t.ClientID = "" }},
		{"zero IssuedAt", func(t *models.Token) { t.IssuedAt = time.Time{} }},
		{"zero access lifetime", func(t *models.Token) { t.ExpiresIn = 0 }},
		{"negative access lifetime", func(t *models.Token) { t.ExpiresIn = -time.Hour }},
		{"access lifetime under a millisecond", func(t *models.Token) { t.ExpiresIn = 999 * time.Microsecond }},
		{"refresh token without refresh lifetime", func(t *models.Token) { t.RefreshTokenExpiresIn = 0 }},
		{"negative refresh lifetime", func(t *models.Token) { t.RefreshTokenExpiresIn = -time.Hour }},
		{"refresh lifetime under a millisecond", func(t *models.Token) { t.RefreshTokenExpiresIn = 500 * time.Microsecond }},
		{"refresh lifetime without refresh token", func(t *models.Token) { t.RefreshToken = "" }},
		{"refresh token equal to access token", func(t *models.Token) { t.RefreshToken = t.AccessToken }},
	}
	for _, tc := range cases {
		tok := h.newToken(h.id("client"), true)
		tc.mutate(tok)
		h.wantErr(h.s.CreateToken(h.ctx, tok), storage.ErrInvalid, "CreateToken with %s", tc.name)
		h.accessErr(tok.AccessToken, storage.ErrNotFound, "after CreateToken with "+tc.name)
		if tok.RefreshToken != "" {
			h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "after CreateToken with "+tc.name)
		}
	}
	empty := h.newToken(h.id("client"), true)
	empty.AccessToken = ""
	h.wantErr(h.s.CreateToken(h.ctx, empty), storage.ErrInvalid, "CreateToken with an empty access token")
	h.refreshErr(empty.RefreshToken, storage.ErrNotFound, "after CreateToken with an empty access token")
	h.accessErr("", storage.ErrNotFound, "of the empty access token after CreateToken with an empty access token")
}

// Unknown credentials are ErrNotFound for every token method.
func testTokenUnknown(h *harness) {
	h.createToken(h.newToken(h.id("client"), true))
	for _, v := range []string{h.secret("access token"), ""} {
		h.accessErr(v, storage.ErrNotFound, "of an unknown access token")
		h.refreshErr(v, storage.ErrNotFound, "of an unknown refresh token")
	}
}

// An access token is not a refresh token and the reverse.
func testTokenCredentialsNotInterchangeable(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.accessErr(tok.RefreshToken, storage.ErrNotFound, "of a refresh token")
	h.refreshErr(tok.AccessToken, storage.ErrNotFound, "of an access token")
}

// Tokens match exactly: near misses of stored credentials are unknown.
func testTokenLookupExact(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	near := func(v string) []string {
		return []string{v[:len(v)-1], v + "x", strings.ToUpper(v), strings.ToLower(v), " " + v, v + " "}
	}
	for _, v := range near(tok.AccessToken) {
		h.accessErr(v, storage.ErrNotFound, "of a near miss of a stored access token")
		h.wantErr(h.s.RevokeToken(h.ctx, v), storage.ErrNotFound, "RevokeToken of a near miss of a stored access token")
	}
	for _, v := range near(tok.RefreshToken) {
		h.refreshErr(v, storage.ErrNotFound, "of a near miss of a stored refresh token")
		h.wantErr(h.s.RevokeToken(h.ctx, v), storage.ErrNotFound, "RevokeToken of a near miss of a stored refresh token")
	}
	h.expectAccess(tok)
	h.expectRefresh(tok)
}

// Tokens do not need their client in the same store.
func testTokenClientNotStored(h *harness) {
	stored := h.newClient(true)
	h.createClient(stored)
	for _, clientID := range []string{h.id("client"), stored.ClientID} {
		tok := h.newToken(clientID, true)
		h.createToken(tok)
		h.expectAccess(tok)
		h.expectRefresh(tok)
	}
}

// The access lifetime is judged by access token only: valid at its expiry,
// expired a millisecond later, while the refresh token still works.
func testTokenAccessExpiry(h *harness) {
	tok := h.newToken(h.id("client"), true) // access 1h, refresh 24h
	h.createToken(tok)
	issued := h.now()
	h.setClock(issued.Add(time.Hour))
	h.expectAccess(tok)
	h.expectRefresh(tok)
	h.setClock(issued.Add(time.Hour + time.Millisecond))
	h.accessErr(tok.AccessToken, storage.ErrExpired, "one millisecond after the access token expired")
	h.expectRefresh(tok)
	h.setClock(issued.Add(24 * time.Hour))
	h.expectRefresh(tok)
	h.setClock(issued.Add(24*time.Hour + time.Millisecond))
	h.refreshErr(tok.RefreshToken, storage.ErrExpired, "one millisecond after the refresh token expired")
	h.accessErr(tok.AccessToken, storage.ErrExpired, "after both lifetimes ended")
}

// The refresh lifetime is judged by refresh token only, even when it ends
// before the access lifetime.
func testTokenRefreshExpiry(h *harness) {
	tok := h.newToken(h.id("client"), true)
	tok.ExpiresIn = 2 * time.Hour
	tok.RefreshTokenExpiresIn = time.Hour
	h.createToken(tok)
	issued := h.now()
	h.setClock(issued.Add(time.Hour))
	h.expectRefresh(tok)
	h.setClock(issued.Add(time.Hour + time.Millisecond))
	h.refreshErr(tok.RefreshToken, storage.ErrExpired, "one millisecond after the refresh token expired")
	h.expectAccess(tok)
	h.setClock(issued.Add(2 * time.Hour))
	h.expectAccess(tok)
	h.setClock(issued.Add(2*time.Hour + time.Millisecond))
	h.accessErr(tok.AccessToken, storage.ErrExpired, "one millisecond after the access token expired")
}

// Expiry is judged on the IssuedAt and lifetimes truncated to the
// millisecond, as they read back.
func testTokenExpiryTruncated(h *harness) {
	tok := h.newToken(h.id("client"), true)
	issued := h.now()
	tok.IssuedAt = issued.Add(900 * time.Microsecond)
	tok.ExpiresIn = time.Hour + 900*time.Microsecond
	tok.RefreshTokenExpiresIn = 2*time.Hour + 900*time.Microsecond
	h.createToken(tok)
	h.setClock(issued.Add(time.Hour))
	h.expectAccess(tok)
	h.setClock(issued.Add(time.Hour + time.Millisecond))
	h.accessErr(tok.AccessToken, storage.ErrExpired, "one millisecond after the truncated access expiry")
	h.setClock(issued.Add(2 * time.Hour))
	h.expectRefresh(tok)
	h.setClock(issued.Add(2*time.Hour + time.Millisecond))
	h.refreshErr(tok.RefreshToken, storage.ErrExpired, "one millisecond after the truncated refresh expiry")
}

// Each lifetime is over a microsecond after it ends, for lookups,
// rotation and purge: a store that truncates its clock to the millisecond
// would keep the token alive for up to a millisecond longer.
func testTokenExpirySubMillisecond(h *harness) {
	clientID := h.id("client")
	tok, other := h.newToken(clientID, true), h.newToken(clientID, true)
	h.createToken(tok)
	h.createToken(other)
	h.setClock(tok.ExpiresAt().Add(time.Microsecond))
	h.accessErr(tok.AccessToken, storage.ErrExpired, "one microsecond after the access token expired")
	h.setClock(tok.RefreshTokenExpiresAt().Add(time.Microsecond))
	h.refreshErr(tok.RefreshToken, storage.ErrExpired, "one microsecond after the refresh token expired")
	next := h.successor(other)
	h.rotateErr(other.RefreshToken, next, storage.ErrExpired, "one microsecond after the refresh token expired")
	h.notWritten(next, "for an expired refresh token")
	h.purge(2, "one microsecond after both lifetimes of two pairs ended")
}

// revokedPair checks that both credentials of tok are ErrRevoked.
func (h *harness) revokedPair(tok *models.Token, how string) {
	h.t.Helper()
	h.accessErr(tok.AccessToken, storage.ErrRevoked, "after "+how)
	if tok.RefreshToken != "" {
		h.refreshErr(tok.RefreshToken, storage.ErrRevoked, "after "+how)
	}
}

// Revoking by access token revokes the refresh token too, and no other
// token of the client.
func testTokenRevokeByAccess(h *harness) {
	clientID := h.id("client")
	tok, other := h.newToken(clientID, true), h.newToken(clientID, true)
	h.createToken(tok)
	h.createToken(other)
	h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token)")
	h.revokedPair(tok, "RevokeToken(access token)")
	h.expectAccess(other)
	h.expectRefresh(other)
}

// Revoking by refresh token revokes the access token too, and no other
// token of the client.
func testTokenRevokeByRefresh(h *harness) {
	clientID := h.id("client")
	tok, other := h.newToken(clientID, true), h.newToken(clientID, true)
	h.createToken(tok)
	h.createToken(other)
	h.must(h.s.RevokeToken(h.ctx, tok.RefreshToken), "RevokeToken(refresh token)")
	h.revokedPair(tok, "RevokeToken(refresh token)")
	h.expectAccess(other)
	h.expectRefresh(other)
}

func testTokenRevokeWithoutRefresh(h *harness) {
	tok := h.newToken(h.id("client"), false)
	h.createToken(tok)
	h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token of a token without refresh token)")
	h.revokedPair(tok, "RevokeToken(access token of a token without refresh token)")
}

// Revoking a revoked token, by either credential, is not an error.
func testTokenRevokeTwice(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token)")
	h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token) again")
	h.must(h.s.RevokeToken(h.ctx, tok.RefreshToken), "RevokeToken(refresh token) of a revoked token")
	h.revokedPair(tok, "revoking three times")
}

func testTokenRevokeUnknown(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.wantErr(h.s.RevokeToken(h.ctx, h.secret("access token")), storage.ErrNotFound, "RevokeToken of an unknown token")
	h.wantErr(h.s.RevokeToken(h.ctx, ""), storage.ErrNotFound, "RevokeToken of the empty token")
	h.expectAccess(tok)
	h.expectRefresh(tok)
}

// Revoking an expired token, by either credential, is not an error, and
// it then reads as revoked.
func testTokenRevokeExpired(h *harness) {
	clientID := h.id("client")
	a, b := h.newToken(clientID, true), h.newToken(clientID, true)
	h.createToken(a)
	h.createToken(b)
	h.advance(24*time.Hour + time.Minute)
	h.accessErr(a.AccessToken, storage.ErrExpired, "after both lifetimes ended")
	h.must(h.s.RevokeToken(h.ctx, a.AccessToken), "RevokeToken(access token) of an expired token")
	h.must(h.s.RevokeToken(h.ctx, b.RefreshToken), "RevokeToken(refresh token) of an expired token")
	h.revokedPair(a, "RevokeToken(access token) of an expired token")
	h.revokedPair(b, "RevokeToken(refresh token) of an expired token")
}

// Revocation is reported before expiry.
func testTokenRevokedThenExpired(h *harness) {
	tok := h.newToken(h.id("client"), true)
	h.createToken(tok)
	h.must(h.s.RevokeToken(h.ctx, tok.AccessToken), "RevokeToken(access token)")
	h.advance(time.Hour + time.Minute)
	h.accessErr(tok.AccessToken, storage.ErrRevoked, "of a revoked token whose access token has expired since")
	h.refreshErr(tok.RefreshToken, storage.ErrRevoked, "of a revoked token")
	h.advance(24 * time.Hour)
	h.refreshErr(tok.RefreshToken, storage.ErrRevoked, "of a revoked token whose refresh token has expired since")
}

// An access token may equal another pair's refresh token: the two are
// looked up by different methods, and each reads back its own pair.
// RevokeToken of such a value revokes both pairs.
func testTokenAccessEqualsOtherRefresh(h *harness) {
	clientID := h.id("client")
	a := h.newToken(clientID, true)
	h.createToken(a)
	b := h.newToken(clientID, true)
	b.AccessToken = a.RefreshToken
	h.createToken(b)
	h.expectAccess(a)
	h.expectRefresh(a)
	h.expectAccess(b)
	h.expectRefresh(b)
	h.must(h.s.RevokeToken(h.ctx, a.RefreshToken), "RevokeToken of a value that is one pair's refresh token and another's access token")
	h.revokedPair(a, "RevokeToken of its refresh token, which is also another pair's access token")
	h.revokedPair(b, "RevokeToken of its access token, which is also another pair's refresh token")
}
