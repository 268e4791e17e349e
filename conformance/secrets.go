package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

var secretsTests = []testCase{
	{"ErrorMessages", testSecretsErrorMessages},
	{"RawDump", testSecretsRawDump},
}

// No error contains a client secret, code or token. (Every error the suite
// expects is checked for this; this case walks the error paths where a
// credential is at hand in one place.)
func testSecretsErrorMessages(h *harness) {
	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()

	client := h.newClient(true)
	h.createClient(client)
	dup := h.newClient(true)
	dup.ClientID = client.ClientID
	h.wantErr(h.s.CreateClient(h.ctx, dup), storage.ErrAlreadyExists, "CreateClient with a taken ID")
	bad := h.newClient(true)
	bad.GrantTypes = append(bad.GrantTypes, "urn:example:unknown-grant")
	h.wantErr(h.s.CreateClient(h.ctx, bad), storage.ErrInvalid, "CreateClient with an unknown grant type")
	h.wantErr(h.s.CreateClient(cancelled, h.newClient(true)), context.Canceled, "CreateClient with a cancelled context")
	_, err := h.s.AuthenticateClient(h.ctx, client.ClientID, h.secret("client secret"))
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient with a wrong secret")
	_, err = h.s.AuthenticateClient(h.ctx, h.id("client"), h.secret("client secret"))
	h.wantErr(err, storage.ErrNotFound, "AuthenticateClient of an unknown client")
	_, err = h.s.AuthenticateClient(cancelled, client.ClientID, client.ClientSecret)
	h.wantErr(err, context.Canceled, "AuthenticateClient with a cancelled context")
	public := h.newClient(false)
	h.createClient(public)
	_, err = h.s.AuthenticateClient(h.ctx, public.ClientID, h.secret("client secret"))
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient of a public client")

	code := h.newCode(client.ClientID)
	h.createCode(code)
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, code), storage.ErrAlreadyExists, "CreateAuthorizationCode of a stored code")
	badCode := h.newCode(client.ClientID)
	badCode.AuthTime = time.Time{}
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, badCode), storage.ErrInvalid, "CreateAuthorizationCode with a zero AuthTime")
	badCode.AuthTime, badCode.CodeChallengeMethod = h.now(), "S512"
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, badCode), storage.ErrInvalid, "CreateAuthorizationCode with an unknown PKCE method")
	unknown := h.secret("authorization code")
	h.codeErr(unknown, storage.ErrNotFound, "of an unknown code")
	h.consumeErr(unknown, storage.ErrNotFound, "of an unknown code")
	h.wantErr(h.s.DeleteAuthorizationCode(h.ctx, unknown), storage.ErrNotFound, "DeleteAuthorizationCode of an unknown code")
	_, err = h.s.ConsumeAuthorizationCode(cancelled, code.Code)
	h.wantErr(err, context.Canceled, "ConsumeAuthorizationCode with a cancelled context")
	_, err = h.s.ConsumeAuthorizationCode(h.ctx, code.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.consumeErr(code.Code, storage.ErrAlreadyUsed, "of a consumed code")
	h.codeErr(code.Code, storage.ErrAlreadyUsed, "of a consumed code")
	expiring := h.newCode(client.ClientID)
	expiring.ExpiresIn = time.Second

	tok := h.newToken(client.ClientID, true)
	h.createToken(tok)
	dupAccess := h.newToken(client.ClientID, true)
	dupAccess.AccessToken = tok.AccessToken
	h.wantErr(h.s.CreateToken(h.ctx, dupAccess), storage.ErrAlreadyExists, "CreateToken with a taken access token")
	dupRefresh := h.newToken(client.ClientID, true)
	dupRefresh.RefreshToken = tok.RefreshToken
	h.wantErr(h.s.CreateToken(h.ctx, dupRefresh), storage.ErrAlreadyExists, "CreateToken with a taken refresh token")
	same := h.newToken(client.ClientID, true)
	same.RefreshToken = same.AccessToken
	h.wantErr(h.s.CreateToken(h.ctx, same), storage.ErrInvalid, "CreateToken with the refresh token equal to the access token")
	noLifetime := h.newToken(client.ClientID, true)
	noLifetime.RefreshTokenExpiresIn = 0
	h.wantErr(h.s.CreateToken(h.ctx, noLifetime), storage.ErrInvalid, "CreateToken with a refresh token without lifetime")
	h.wantErr(h.s.CreateToken(cancelled, h.newToken(client.ClientID, true)), context.Canceled, "CreateToken with a cancelled context")
	unknownTok := h.secret("access token")
	h.accessErr(unknownTok, storage.ErrNotFound, "of an unknown token")
	h.refreshErr(unknownTok, storage.ErrNotFound, "of an unknown token")
	h.wantErr(h.s.RevokeToken(h.ctx, unknownTok), storage.ErrNotFound, "RevokeToken of an unknown token")
	h.wantErr(h.s.RevokeToken(cancelled, tok.AccessToken), context.Canceled, "RevokeToken with a cancelled context")
	_, err = h.s.GetTokenByRefresh(cancelled, tok.RefreshToken)
	h.wantErr(err, context.Canceled, "GetTokenByRefresh with a cancelled context")

	expiringTok := h.newToken(client.ClientID, true)
	h.createCode(expiring)
	h.createToken(expiringTok)
	h.advance(24*time.Hour + time.Minute)
	h.codeErr(expiring.Code, storage.ErrExpired, "of an expired code")
	h.consumeErr(expiring.Code, storage.ErrExpired, "of an expired code")
	h.accessErr(expiringTok.AccessToken, storage.ErrExpired, "of an expired token")
	h.refreshErr(expiringTok.RefreshToken, storage.ErrExpired, "of an expired token")
	h.must(h.s.RevokeToken(h.ctx, tok.RefreshToken), "RevokeToken(refresh token)")
	h.accessErr(tok.AccessToken, storage.ErrRevoked, "of a revoked token")
	h.refreshErr(tok.RefreshToken, storage.ErrRevoked, "of a revoked token")
}

// encodings returns the forms in which a leaked credential would be
// recognised in a dump.
func encodings(v string) []string {
	b := []byte(v)
	return []string{
		v,
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
}

// If the store implements RawDumper, nothing it persisted contains a
// client secret, code or token, in plaintext or trivially encoded, whatever
// was done with them.
func testSecretsRawDump(h *harness) {
	dumper, ok := h.s.(RawDumper)
	if !ok {
		h.t.Skip("the store does not implement conformance.RawDumper: cannot check that no credential is persisted in plaintext")
	}
	p := h.population(3, true)
	p[0].consumeFirstCode(h)
	p[1].revokeFirstToken(h)
	h.must(h.s.RevokeToken(h.ctx, p[2].tokens[0].RefreshToken), "RevokeToken(refresh token)")
	public := h.newClient(false)
	h.createClient(public)
	dup := h.newClient(true)
	dup.ClientID = p[0].client.ClientID
	h.wantErr(h.s.CreateClient(h.ctx, dup), storage.ErrAlreadyExists, "CreateClient with a taken ID")
	_, err := h.s.AuthenticateClient(h.ctx, p[1].client.ClientID, p[1].client.ClientSecret)
	h.must(err, "AuthenticateClient")
	_, err = h.s.AuthenticateClient(h.ctx, p[1].client.ClientID, h.secret("client secret"))
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient with a wrong secret")

	raw, err := dumper.DumpRaw(h.ctx)
	h.must(err, "DumpRaw")
	for _, c := range append([]string{public.ClientID}, p[0].client.ClientID, p[1].client.ClientID, p[2].client.ClientID) {
		if !bytes.Contains(raw, []byte(c)) {
			h.t.Fatalf("DumpRaw (%d bytes) does not contain the stored client ID %q: it must return every persisted byte, with strings readable", len(raw), c)
		}
	}
	digestOf := secret.Digest
	switch d, ok := dumper.(CredentialDigester); {
	case ok:
		digestOf = d.CredentialDigest
	case h.keys != nil:
		digestOf = h.keys.Digest
	}
	for _, m := range p {
		for _, c := range m.codes {
			if !bytes.Contains(raw, []byte(digestOf(c.Code))) {
				h.t.Fatalf("DumpRaw (%d bytes) does not contain the digest of a stored code of client %q: it must return every persisted byte, key names and index entries included", len(raw), m.client.ClientID)
			}
		}
		for _, tok := range m.tokens {
			for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
				if v != "" && !bytes.Contains(raw, []byte(digestOf(v))) {
					h.t.Fatalf("DumpRaw (%d bytes) does not contain the digest of a stored token of client %q: it must return every persisted byte, key names and index entries included", len(raw), m.client.ClientID)
				}
			}
		}
	}
	if h.keys != nil {
		for _, c := range h.creds {
			if bytes.Contains(raw, []byte(secret.Digest(c.value))) {
				h.t.Errorf("the persisted data contains the unkeyed SHA-256 digest of a %s: a store with keyed digests must persist keyed digests only", c.kind)
				break
			}
		}
	}
	leaked := map[string]int{} // kind and form -> how many
	var order []string
	for _, c := range h.creds {
		for i, enc := range encodings(c.value) {
			if bytes.Contains(raw, []byte(enc)) {
				key := c.kind + " in plaintext"
				if i > 0 {
					key = c.kind + ", hex or base64 encoded"
				}
				if leaked[key] == 0 {
					order = append(order, key)
				}
				leaked[key]++
				break
			}
		}
	}
	for _, key := range order {
		h.t.Errorf("the persisted data contains %d of the generated credentials of kind %s: credentials must be stored only as digests or salted hashes", leaked[key], key)
	}
}
