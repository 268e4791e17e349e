package backendkit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// checkOutcome fails unless err is nil or wraps storage.ErrInvalid without
// containing any of the (distinctive) credentials. A credential that is part of a field
// errors may name (the client ID, an enumeration value) is not told apart
// from it, so it is not looked for.
func checkOutcome(t *testing.T, err error, shown []string, creds ...string) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("error %q does not wrap storage.ErrInvalid", err)
	}
	for _, c := range creds {
		// Short or wordlike values also occur in the messages' own words
		// ("plain", "code challenge"): only distinctive ones are looked
		// for, as real credentials are.
		if len(c) < 16 || !strings.ContainsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && r != ' ' }) ||
			!strings.Contains(err.Error(), c) {
			continue
		}
		if !slices.ContainsFunc(shown, func(f string) bool {
			return strings.Contains(f, c) || strings.Contains(fmt.Sprintf("%q", f), c)
		}) {
			t.Fatalf("error %q contains a credential", err)
		}
	}
}

// storableField fails unless an accepted field is storable.
func storableField(t *testing.T, name, s string, max int) {
	t.Helper()
	if len(s) > max || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("accepted a %s of %d bytes (valid UTF-8: %t) that no store must hold", name, len(s), utf8.ValidString(s))
	}
}

func FuzzNormalizeClient(f *testing.F) {
	f.Add("client-1", "s3cret", "https://app.example.com/cb", "read write", "user-1", "authorization_code", "code")
	f.Add("", "", "", "", "", "", "")
	f.Add("c\x00", "\xff", "/relative", "a\x00", "u", "implicit", "code token")
	f.Add(strings.Repeat("i", 256), strings.Repeat("s", 9000), "com.example.app:/cb", "é", "用户", "refresh_token", "none")
	f.Fuzz(func(t *testing.T, id, secret, uri, scope, user, grant, response string) {
		c := &models.Client{ClientID: id, ClientSecret: secret, RedirectURIs: []string{uri}, Scope: scope, UserID: user,
			GrantTypes: []models.GrantType{models.GrantType(grant)}, ResponseTypes: []models.ResponseType{models.ResponseType(response)}}
		n, err := NormalizeClient(c)
		checkOutcome(t, err, []string{id, grant, response}, secret)
		if err != nil {
			return
		}
		storableField(t, "client ID", n.ClientID, storage.MaxIDLen)
		storableField(t, "client secret", n.ClientSecret, storage.MaxCredentialLen)
		storableField(t, "scope", n.Scope, storage.MaxScopeLen)
		storableField(t, "user ID", n.UserID, storage.MaxIDLen)
		if n.ClientID == "" || !LookupID(n.ClientID) {
			t.Fatalf("accepted client ID %q, which LookupID would not look up", n.ClientID)
		}
		if models.ValidateRedirectURI(uri) != nil || !n.GrantTypes[0].Valid() || !n.ResponseTypes[0].Valid() {
			t.Fatalf("accepted an invalid redirect URI, grant type or response type: %q %q %q", uri, grant, response)
		}
		if n.SecretHash != "" {
			t.Fatal("NormalizeClient kept a SecretHash")
		}
	})
}

func FuzzNormalizeAuthorizationCode(f *testing.F) {
	f.Add("code-1", "client-1", "https://app.example.com/cb", "code", "openid", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", "n", "u", "", int64(60_000))
	f.Add("", "", "", "", "", "", "", "", "", "", int64(0))
	f.Add("c\xff", "c\x00", "#", "x", "s", "plain-but-short", "plain", "\x00", "u", strings.Repeat("g", 300), int64(-1))
	f.Fuzz(func(t *testing.T, code, client, uri, response, scope, challenge, method, nonce, user, grant string, lifeMS int64) {
		c := &models.AuthorizationCode{Code: code, ClientID: client, RedirectURI: uri, ResponseType: models.ResponseType(response), Scope: scope,
			CodeChallenge: challenge, CodeChallengeMethod: models.CodeChallengeMethod(method), Nonce: nonce, UserID: user,
			GrantID: grant, AuthTime: time.Unix(1_900_000_000, 123_456_789), ExpiresIn: time.Duration(lifeMS) * time.Microsecond}
		orig := *c
		n, err := NormalizeAuthorizationCode(c)
		checkOutcome(t, err, []string{client, method}, code)
		if *c != orig {
			t.Fatal("NormalizeAuthorizationCode modified its argument")
		}
		if err != nil {
			return
		}
		storableField(t, "code", n.Code, storage.MaxCredentialLen)
		storableField(t, "nonce", n.Nonce, storage.MaxNonceLen)
		storableField(t, "grant ID", n.GrantID, storage.MaxIDLen)
		if n.Code == "" || n.GrantID == "" || n.ExpiresIn < Precision || !n.AuthTime.Equal(Truncate(n.AuthTime)) {
			t.Fatalf("accepted code with empty code or grant, lifetime %v, auth time %v", n.ExpiresIn, n.AuthTime)
		}
		if n.CodeChallenge != "" && !models.ValidCodeChallenge(n.CodeChallenge, n.CodeChallengeMethod) {
			t.Fatalf("accepted a malformed %q challenge %q", n.CodeChallengeMethod, n.CodeChallenge)
		}
	})
}

func FuzzNormalizeToken(f *testing.F) {
	f.Add("access-1", "refresh-1", "client-1", "read", "Bearer", "u", "", int64(3_600_000), int64(86_400_000), false)
	f.Add("", "", "", "", "", "", "", int64(0), int64(0), true)
	f.Add("a\x00", "a\x00", "\xff", "s", strings.Repeat("t", 300), "u", "g", int64(1), int64(-5), false)
	// Found by the fuzzer: an access token equal to the client ID the error
	// names.
	f.Add("0000", "", "0000", "", "", "\xff", "", int64(3_600_000), int64(0), false)
	f.Fuzz(func(t *testing.T, access, refresh, client, scope, typ, user, grant string, accessMS, refreshMS int64, revoked bool) {
		tok := &models.Token{AccessToken: access, RefreshToken: refresh, ClientID: client, Scope: scope, TokenType: typ,
			UserID: user, GrantID: grant, IssuedAt: time.Unix(1_900_000_000, 999_999), Revoked: revoked,
			ExpiresIn: time.Duration(accessMS) * time.Microsecond, RefreshTokenExpiresIn: time.Duration(refreshMS) * time.Microsecond}
		for _, normalize := range []func(*models.Token) (models.Token, error){NormalizeToken, NormalizeSuccessor} {
			n, err := normalize(tok)
			checkOutcome(t, err, []string{client}, access, refresh)
			if err != nil {
				continue
			}
			storableField(t, "access token", n.AccessToken, storage.MaxCredentialLen)
			storableField(t, "refresh token", n.RefreshToken, storage.MaxCredentialLen)
			storableField(t, "token type", n.TokenType, storage.MaxShortLen)
			switch {
			case n.Revoked:
				t.Fatal("accepted a token created revoked")
			case n.AccessToken == "" || n.ExpiresIn < Precision || n.TokenType == "":
				t.Fatalf("accepted a token without access token, lifetime or type: %v", n)
			case (n.RefreshToken == "") != (n.RefreshTokenExpiresIn == 0) || n.RefreshTokenExpiresIn < 0:
				t.Fatalf("accepted refresh token presence %t with refresh lifetime %v", n.RefreshToken != "", n.RefreshTokenExpiresIn)
			case n.RefreshToken != "" && n.RefreshToken == n.AccessToken:
				t.Fatal("accepted a refresh token equal to the access token")
			}
		}
	})
}
