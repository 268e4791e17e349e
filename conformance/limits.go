package conformance

import (
	"strings"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The Limits group checks the rules of storage/limits.go: every string
// field valid UTF-8 without NUL, every field within its documented size,
// the same on every backend. At its limit a field is accepted and reads
// back byte for byte; one byte over, or with invalid UTF-8 or a NUL, the
// record is storage.ErrInvalid and nothing of it is written; a lookup by
// a value that could never be stored is storage.ErrNotFound.
var limitsTests = []testCase{
	{"Client", testLimitsClient},
	{"Code", testLimitsCode},
	{"Token", testLimitsToken},
	{"ListDuplicates", testLimitsListDuplicates},
	{"UnstorableLookups", testLimitsUnstorableLookups},
}

// sized returns a valid UTF-8 string of exactly n bytes that starts with
// prefix and mixes one-, two-, three- and four-byte characters, so that a
// store that counts characters instead of bytes, or truncates, fails.
func (h *harness) sized(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	chars := []string{"é", "€", "𝄞", "a", "Z", "0", "-"}
	for b.Len() < n {
		c := chars[h.rng.IntN(len(chars))]
		if b.Len()+len(c) > n {
			c = "x"
		}
		b.WriteString(c)
	}
	return b.String()
}

// sizedSecret is sized for a credential: recorded so that no error or dump
// may contain it.
func (h *harness) sizedSecret(kind string, n int) string {
	v := h.sized(strings.ReplaceAll(kind, " ", "")+"."+h.randString(16)+".", n)
	h.creds = append(h.creds, credential{kind, v})
	return v
}

// badText are the values no string field accepts, by what is wrong.
var badText = []struct{ name, value string }{
	{"invalid UTF-8", "bad-\xff\xfe-utf8"},
	{"a NUL byte", "nul-\x00-byte"},
}

// fieldCase is a field of a record: how to set it to a value, and its
// limit.
type fieldCase[T any] struct {
	name  string
	max   int
	set   func(r *T, v string)
	cred  bool // a credential: its value is a secret
	ascii bool // the field needs ASCII values (a PKCE challenge)
}

func (h *harness) value(name string, n int, cred, ascii bool) string {
	switch {
	case ascii:
		return h.randString(n)
	case cred:
		return h.sizedSecret(name, n)
	case name == "redirect URI":
		return h.sized("https://app.example.com/cb/", n)
	}
	return h.sized(strings.ReplaceAll(name, " ", "-")+"-", n)
}

func testLimitsClient(h *harness) {
	fields := []fieldCase[models.Client]{
		{name: "client ID", max: storage.MaxIDLen, set: func(c *models.Client, v string) { c.ClientID = v }},
		{name: "client secret", max: storage.MaxCredentialLen, set: func(c *models.Client, v string) { c.ClientSecret = v }, cred: true},
		{name: "redirect URI", max: storage.MaxRedirectURILen, set: func(c *models.Client, v string) { c.RedirectURIs[1] = v }},
		{name: "scope", max: storage.MaxScopeLen, set: func(c *models.Client, v string) { c.Scope = v }},
		{name: "user ID", max: storage.MaxIDLen, set: func(c *models.Client, v string) { c.UserID = v }},
	}
	for _, f := range fields {
		at := h.newClient(true)
		f.set(at, h.value(f.name, f.max, f.cred, f.ascii))
		h.must(h.s.CreateClient(h.ctx, at), "CreateClient with a %s of %d bytes (the limit)", f.name, f.max)
		h.expectClient(at)
		if f.cred {
			got, err := h.s.AuthenticateClient(h.ctx, at.ClientID, at.ClientSecret)
			h.must(err, "AuthenticateClient with a secret of %d bytes (the limit)", f.max)
			h.checkClient("AuthenticateClient with a secret at the limit", got, at)
		}
		rejected := []struct{ what, value string }{{"one byte over the limit", h.value(f.name, f.max+1, f.cred, f.ascii)}}
		for _, b := range badText {
			rejected = append(rejected, struct{ what, value string }{b.name, b.value})
		}
		for _, r := range rejected {
			c := h.newClient(true)
			f.set(c, r.value)
			h.wantErr(h.s.CreateClient(h.ctx, c), storage.ErrInvalid, "CreateClient with a %s with %s", f.name, r.what)
			if f.name != "client ID" {
				h.clientErr(c.ClientID, storage.ErrNotFound, "after CreateClient with a "+f.name+" with "+r.what)
			}
		}
	}
	many := h.newClient(false)
	many.RedirectURIs = nil
	for i := range storage.MaxRedirectURIs {
		many.RedirectURIs = append(many.RedirectURIs, "https://app.example.com/cb/"+h.randString(8)+"/"+string(rune('a'+i%26)))
	}
	h.must(h.s.CreateClient(h.ctx, many), "CreateClient with %d redirect URIs (the limit)", storage.MaxRedirectURIs)
	h.expectClient(many)
	tooMany := h.newClient(false)
	tooMany.RedirectURIs = append(append([]string(nil), many.RedirectURIs...), "https://app.example.com/one-more")
	h.wantErr(h.s.CreateClient(h.ctx, tooMany), storage.ErrInvalid, "CreateClient with %d redirect URIs", len(tooMany.RedirectURIs))
	h.clientErr(tooMany.ClientID, storage.ErrNotFound, "after CreateClient with too many redirect URIs")
}

func testLimitsCode(h *harness) {
	fields := []fieldCase[models.AuthorizationCode]{
		{name: "code", max: storage.MaxCredentialLen, set: func(c *models.AuthorizationCode, v string) { c.Code = v }, cred: true},
		{name: "client ID", max: storage.MaxIDLen, set: func(c *models.AuthorizationCode, v string) { c.ClientID = v }},
		{name: "redirect URI", max: storage.MaxRedirectURILen, set: func(c *models.AuthorizationCode, v string) { c.RedirectURI = v }},
		{name: "response type", max: storage.MaxShortLen, set: func(c *models.AuthorizationCode, v string) { c.ResponseType = models.ResponseType(v) }},
		{name: "scope", max: storage.MaxScopeLen, set: func(c *models.AuthorizationCode, v string) { c.Scope = v }},
		{name: "code challenge", max: storage.MaxCodeChallengeLen, set: func(c *models.AuthorizationCode, v string) {
			c.CodeChallenge, c.CodeChallengeMethod = v, models.CodeChallengePlain
		}, ascii: true},
		{name: "nonce", max: storage.MaxNonceLen, set: func(c *models.AuthorizationCode, v string) { c.Nonce = v }},
		{name: "user ID", max: storage.MaxIDLen, set: func(c *models.AuthorizationCode, v string) { c.UserID = v }},
		{name: "grant ID", max: storage.MaxIDLen, set: func(c *models.AuthorizationCode, v string) { c.GrantID = v }},
	}
	for _, f := range fields {
		at := h.newCode(h.id("client"))
		f.set(at, h.value(f.name, f.max, f.cred, f.ascii))
		h.must(h.s.CreateAuthorizationCode(h.ctx, at), "CreateAuthorizationCode with a %s of %d bytes (the limit)", f.name, f.max)
		h.expectCode(at)
		rejected := []string{h.value(f.name, f.max+1, f.cred, f.ascii)}
		if !f.ascii {
			for _, b := range badText {
				rejected = append(rejected, b.value)
			}
		}
		for i, v := range rejected {
			c := h.newCode(h.id("client"))
			f.set(c, v)
			what := "one byte over the limit"
			if i > 0 {
				what = badText[i-1].name
			}
			h.wantErr(h.s.CreateAuthorizationCode(h.ctx, c), storage.ErrInvalid, "CreateAuthorizationCode with a %s with %s", f.name, what)
			if f.name != "code" {
				h.codeErr(c.Code, storage.ErrNotFound, "after CreateAuthorizationCode with a "+f.name+" with "+what)
			}
		}
	}
}

func testLimitsToken(h *harness) {
	fields := []fieldCase[models.Token]{
		{name: "access token", max: storage.MaxCredentialLen, set: func(t *models.Token, v string) { t.AccessToken = v }, cred: true},
		{name: "refresh token", max: storage.MaxCredentialLen, set: func(t *models.Token, v string) { t.RefreshToken = v }, cred: true},
		{name: "client ID", max: storage.MaxIDLen, set: func(t *models.Token, v string) { t.ClientID = v }},
		{name: "scope", max: storage.MaxScopeLen, set: func(t *models.Token, v string) { t.Scope = v }},
		{name: "token type", max: storage.MaxShortLen, set: func(t *models.Token, v string) { t.TokenType = v }},
		{name: "user ID", max: storage.MaxIDLen, set: func(t *models.Token, v string) { t.UserID = v }},
		{name: "grant ID", max: storage.MaxIDLen, set: func(t *models.Token, v string) { t.GrantID = v }},
	}
	for _, f := range fields {
		at := h.newToken(h.id("client"), true)
		f.set(at, h.value(f.name, f.max, f.cred, f.ascii))
		h.must(h.s.CreateToken(h.ctx, at), "CreateToken with a %s of %d bytes (the limit)", f.name, f.max)
		h.expectAccess(at)
		h.expectRefresh(at)
		rejected := []string{h.value(f.name, f.max+1, f.cred, f.ascii)}
		for _, b := range badText {
			rejected = append(rejected, b.value)
		}
		for i, v := range rejected {
			tok := h.newToken(h.id("client"), true)
			f.set(tok, v)
			what := "one byte over the limit"
			if i > 0 {
				what = badText[i-1].name
			}
			h.wantErr(h.s.CreateToken(h.ctx, tok), storage.ErrInvalid, "CreateToken with a %s with %s", f.name, what)
			if f.name != "access token" {
				h.accessErr(tok.AccessToken, storage.ErrNotFound, "after CreateToken with a "+f.name+" with "+what)
			}
			if f.name != "refresh token" {
				h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "after CreateToken with a "+f.name+" with "+what)
			}
		}
	}
}

// A client's lists name each entry once.
func testLimitsListDuplicates(h *harness) {
	for _, tc := range []struct {
		name   string
		mutate func(c *models.Client)
	}{
		{"a grant type listed twice", func(c *models.Client) { c.GrantTypes = append(c.GrantTypes, c.GrantTypes[0]) }},
		{"a response type listed twice", func(c *models.Client) { c.ResponseTypes = append(c.ResponseTypes, c.ResponseTypes[0]) }},
		{"a redirect URI listed twice", func(c *models.Client) { c.RedirectURIs = append(c.RedirectURIs, c.RedirectURIs[0]) }},
	} {
		c := h.newClient(true)
		tc.mutate(c)
		h.wantErr(h.s.CreateClient(h.ctx, c), storage.ErrInvalid, "CreateClient with %s", tc.name)
		h.clientErr(c.ClientID, storage.ErrNotFound, "after CreateClient with "+tc.name)
	}
}

// Values that could never be stored are not found, by every method that
// looks one up, and the stored records are untouched.
func testLimitsUnstorableLookups(h *harness) {
	client := h.newClient(true)
	h.createClient(client)
	code := h.newCode(client.ClientID)
	h.createCode(code)
	tok := h.newToken(client.ClientID, true)
	h.createToken(tok)
	values := []struct{ name, value string }{
		{"an ID one byte over the limit", strings.Repeat("i", storage.MaxIDLen+1)},
		{"a credential one byte over the limit", strings.Repeat("c", storage.MaxCredentialLen+1)},
	}
	values = append(values, badText...)
	for _, v := range values {
		h.clientErr(v.value, storage.ErrNotFound, "of "+v.name)
		_, err := h.s.AuthenticateClient(h.ctx, v.value, client.ClientSecret)
		h.wantErr(err, storage.ErrNotFound, "AuthenticateClient of %s", v.name)
		h.wantErr(h.s.DeleteClient(h.ctx, v.value), storage.ErrNotFound, "DeleteClient of %s", v.name)
		h.wantErr(h.s.RevokeGrant(h.ctx, v.value), storage.ErrNotFound, "RevokeGrant of %s", v.name)
		h.codeErr(v.value, storage.ErrNotFound, "of "+v.name)
		h.consumeErr(v.value, storage.ErrNotFound, "of "+v.name)
		h.wantErr(h.s.DeleteAuthorizationCode(h.ctx, v.value), storage.ErrNotFound, "DeleteAuthorizationCode of %s", v.name)
		h.accessErr(v.value, storage.ErrNotFound, "of "+v.name)
		h.refreshErr(v.value, storage.ErrNotFound, "of "+v.name)
		h.wantErr(h.s.RevokeToken(h.ctx, v.value), storage.ErrNotFound, "RevokeToken of %s", v.name)
		next := h.successor(tok)
		h.rotateErr(v.value, next, storage.ErrNotFound, "of "+v.name)
		h.notWritten(next, "for "+v.name)
	}
	h.expectClient(client)
	h.expectCode(code)
	h.expectAccess(tok)
	h.expectRefresh(tok)
	h.advance(time.Minute)
	h.purge(0, "after lookups of unstorable values")
}
