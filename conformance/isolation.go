package conformance

import (
	"fmt"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var isolationTests = []testCase{
	{"SeveralClients", testIsolationSeveralClients},
	{"ConsumeOnlyThatCode", testIsolationConsumeOnlyThatCode},
	{"RevokeOnlyThatPair", testIsolationRevokeOnlyThatPair},
}

// member is one client of a population with the codes and tokens issued to
// it, and what the suite did to them.
type member struct {
	client   *models.Client
	stored   bool
	codes    []*models.AuthorizationCode
	tokens   []*models.Token // the last one has no refresh token
	consumed map[int]bool    // indexes of consumed codes
	revoked  map[int]bool    // indexes of revoked tokens
}

const perMember = 3

// population creates n confidential clients (stored only if store is true)
// and perMember codes and tokens for each, interleaved so that records of
// different clients are written side by side. Every record has its own
// scope and user ID.
func (h *harness) population(n int, store bool) []*member {
	h.t.Helper()
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = &member{client: h.newClient(true), stored: store, consumed: map[int]bool{}, revoked: map[int]bool{}}
		if store {
			h.createClient(ms[i].client)
		}
	}
	for round := range perMember {
		for _, m := range ms {
			c := h.newCode(m.client.ClientID)
			h.createCode(c)
			m.codes = append(m.codes, c)
			tok := h.newToken(m.client.ClientID, round < perMember-1)
			h.createToken(tok)
			m.tokens = append(m.tokens, tok)
		}
	}
	return ms
}

// consumeFirstCode consumes the member's first code.
func (m *member) consumeFirstCode(h *harness) {
	h.t.Helper()
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, m.codes[0].Code)
	h.must(err, "ConsumeAuthorizationCode(code of client %q)", m.client.ClientID)
	h.checkCode("ConsumeAuthorizationCode", got, storedCode(m.codes[0]))
	m.consumed[0] = true
}

// revokeFirstToken revokes the member's first token by its access token.
func (m *member) revokeFirstToken(h *harness) {
	h.t.Helper()
	h.must(h.s.RevokeToken(h.ctx, m.tokens[0].AccessToken), "RevokeToken(access token of client %q)", m.client.ClientID)
	m.revoked[0] = true
}

// expectLive checks that every record of the member reads back as its own,
// in the state the suite left it.
func (m *member) expectLive(h *harness) {
	h.t.Helper()
	if m.stored {
		h.expectClient(m.client)
	}
	for i, c := range m.codes {
		if m.consumed[i] {
			h.codeErr(c.Code, storage.ErrAlreadyUsed, fmt.Sprintf("of a consumed code of client %q", m.client.ClientID))
			continue
		}
		h.expectCode(c)
	}
	for i, tok := range m.tokens {
		if m.revoked[i] {
			h.accessErr(tok.AccessToken, storage.ErrRevoked, fmt.Sprintf("of a revoked token of client %q", m.client.ClientID))
			h.refreshErr(tok.RefreshToken, storage.ErrRevoked, fmt.Sprintf("of a revoked token of client %q", m.client.ClientID))
			continue
		}
		h.expectAccess(tok)
		if tok.RefreshToken != "" {
			h.expectRefresh(tok)
		}
	}
}

// expectGone checks that no record of the member can be found.
func (m *member) expectGone(h *harness, when string) {
	h.t.Helper()
	id := m.client.ClientID
	h.clientErr(id, storage.ErrNotFound, when)
	for _, c := range m.codes {
		h.codeErr(c.Code, storage.ErrNotFound, fmt.Sprintf("of a code of client %q %s", id, when))
		h.consumeErr(c.Code, storage.ErrNotFound, fmt.Sprintf("of a code of client %q %s", id, when))
	}
	for _, tok := range m.tokens {
		h.accessErr(tok.AccessToken, storage.ErrNotFound, fmt.Sprintf("of a token of client %q %s", id, when))
		if tok.RefreshToken != "" {
			h.refreshErr(tok.RefreshToken, storage.ErrNotFound, fmt.Sprintf("of a token of client %q %s", id, when))
			h.wantErr(h.s.RevokeToken(h.ctx, tok.RefreshToken), storage.ErrNotFound, "RevokeToken(refresh token of client %q) %s", id, when)
		}
		h.wantErr(h.s.RevokeToken(h.ctx, tok.AccessToken), storage.ErrNotFound, "RevokeToken(access token of client %q) %s", id, when)
	}
}

// Records of several clients, written interleaved, each read back as its
// own: client, scope and user never mixed up.
func testIsolationSeveralClients(h *harness) {
	p := h.population(4, true)
	for _, m := range p {
		m.expectLive(h)
	}
	for i, m := range p {
		got, err := h.s.AuthenticateClient(h.ctx, m.client.ClientID, m.client.ClientSecret)
		h.must(err, "AuthenticateClient(%q) with its own secret", m.client.ClientID)
		h.checkClient("AuthenticateClient", got, m.client)
		other := p[(i+1)%len(p)]
		_, err = h.s.AuthenticateClient(h.ctx, m.client.ClientID, other.client.ClientSecret)
		h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient(%q) with the secret of client %q", m.client.ClientID, other.client.ClientID)
	}
}

// Consuming one code leaves every other code, of the same client or not,
// unused.
func testIsolationConsumeOnlyThatCode(h *harness) {
	p := h.population(3, true)
	p[1].consumeFirstCode(h)
	for _, m := range p {
		m.expectLive(h)
	}
	for _, m := range p {
		for i, c := range m.codes {
			if m.consumed[i] {
				continue
			}
			got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
			h.must(err, "ConsumeAuthorizationCode(code %d of client %q) after another code was consumed", i, m.client.ClientID)
			h.checkCode("ConsumeAuthorizationCode", got, storedCode(c))
		}
	}
}

// Revoking one token leaves every other token, of the same client or not,
// live.
func testIsolationRevokeOnlyThatPair(h *harness) {
	p := h.population(3, true)
	m := p[1]
	h.must(h.s.RevokeToken(h.ctx, m.tokens[1].RefreshToken), "RevokeToken(refresh token of client %q)", m.client.ClientID)
	m.revoked[1] = true
	m.revokeFirstToken(h)
	for _, m := range p {
		m.expectLive(h)
	}
}
