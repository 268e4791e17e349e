package models

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
	"time"
)

// GrantType is an OAuth 2.0 grant type a client may use at the token endpoint.
type GrantType string

// The grant types a [Client] may be allowed to use.
const (
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantPassword          GrantType = "password"
	GrantClientCredentials GrantType = "client_credentials"
	GrantRefreshToken      GrantType = "refresh_token"
)

// Valid reports whether g is one of the four grant types above.
func (g GrantType) Valid() bool {
	switch g {
	case GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken:
		return true
	}
	return false
}

// ResponseType is a response type a client may request at the authorization
// endpoint.
type ResponseType string

// The response types a [Client] may be allowed to request.
const (
	ResponseTypeCode    ResponseType = "code"
	ResponseTypeToken   ResponseType = "token"
	ResponseTypeIDToken ResponseType = "id_token"
	ResponseTypeNone    ResponseType = "none"
)

// Valid reports whether r is one of the four response types above.
func (r ResponseType) Valid() bool {
	switch r {
	case ResponseTypeCode, ResponseTypeToken, ResponseTypeIDToken, ResponseTypeNone:
		return true
	}
	return false
}

// CodeChallengeMethod is a PKCE (RFC 7636) code challenge method.
type CodeChallengeMethod string

// The PKCE methods of RFC 7636 section 4.2.
const (
	CodeChallengePlain CodeChallengeMethod = "plain"
	CodeChallengeS256  CodeChallengeMethod = "S256"
)

// Valid reports whether m is plain or S256.
func (m CodeChallengeMethod) Valid() bool {
	return m == CodeChallengePlain || m == CodeChallengeS256
}

// DefaultTokenType is the token type of a [Token] whose TokenType is empty.
const DefaultTokenType = "Bearer"

// Client is an OAuth 2.0 client registered with the authorization server.
type Client struct {
	// ClientID is the public identifier of the client, unique across the
	// clients the server handles.
	ClientID string

	// ClientSecret is the plaintext secret, known only to the client and the
	// server. It is read by stores when a client is created and never
	// returned by them: a client read back from a store has an empty
	// ClientSecret and, if it is confidential, a non-empty SecretHash.
	// An empty ClientSecret at creation makes a public client.
	ClientSecret string

	// SecretHash is the salted slow hash of the secret, set by stores on
	// every client they return; empty for a public client. It is ignored
	// when a client is created.
	SecretHash string

	// PreviousSecretValidUntil is, on a client a store returns, the instant
	// until which the secret replaced by the last secret rotation still
	// authenticates the client (see storage.ClientManager); zero if no
	// previous secret is valid any more. It is ignored when a client is
	// created or updated.
	PreviousSecretValidUntil time.Time

	// GrantTypes are the grant types the client may use.
	GrantTypes []GrantType

	// ResponseTypes are the response types the client may request.
	ResponseTypes []ResponseType

	// RedirectURIs are the registered redirection endpoints.
	RedirectURIs []string

	// Scope is the space-separated list of scopes the client may be granted.
	Scope string

	// UserID identifies the user who owns the client (aioauth's user); empty
	// if none. The store persists it; resolving users is the server's job.
	UserID string
}

// Clone returns a deep copy of c: its slices are copied too, so changing
// one never changes the other.
func (c *Client) Clone() *Client {
	out := *c
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.ResponseTypes = slices.Clone(c.ResponseTypes)
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	return &out
}

// IsPublic reports whether the client has no secret: it can never be
// authenticated with one.
func (c *Client) IsPublic() bool {
	return c.ClientSecret == "" && c.SecretHash == ""
}

// CheckRedirectURI reports whether uri is one of the registered redirect
// URIs. Matching is by exact string comparison: no prefix matching and no
// normalisation.
func (c *Client) CheckRedirectURI(uri string) bool {
	return uri != "" && slices.Contains(c.RedirectURIs, uri)
}

// CheckGrantType reports whether the client may use grant type g.
func (c *Client) CheckGrantType(g GrantType) bool {
	return g != "" && slices.Contains(c.GrantTypes, g)
}

// CheckResponseType reports whether the client may request responseType.
// A space-separated value such as "code id_token" is allowed only if every
// part of it is allowed; an empty value is never allowed.
func (c *Client) CheckResponseType(responseType string) bool {
	parts := strings.Fields(responseType)
	if len(parts) == 0 {
		return false
	}
	for _, p := range parts {
		if !slices.Contains(c.ResponseTypes, ResponseType(p)) {
			return false
		}
	}
	return true
}

// AllowedScope returns the part of the space-separated scope that the
// client is allowed, in the order requested, without duplicates (aioauth's
// Client.get_allowed_scope).
func (c *Client) AllowedScope(scope string) string {
	allowed := strings.Fields(c.Scope)
	var out []string
	for _, s := range strings.Fields(scope) {
		if slices.Contains(allowed, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// CheckScope reports whether every scope in the space-separated scope is
// allowed for the client. An empty scope requests nothing and is allowed.
func (c *Client) CheckScope(scope string) bool {
	allowed := strings.Fields(c.Scope)
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(allowed, s) {
			return false
		}
	}
	return true
}

// AuthorizationCode is an authorization code issued to a client.
type AuthorizationCode struct {
	// Code is the code itself. Stores keep only its digest.
	Code string
	// ClientID is the client the code was issued to. The server must check
	// that the client redeeming the code is this one (RFC 6749 4.1.3).
	ClientID string
	// RedirectURI is the redirect URI of the authorization request, if any.
	RedirectURI string
	// ResponseType is the response type of the authorization request: one
	// of the ResponseType constants or, for a combined request, several
	// separated by spaces ("code id_token"), as sent.
	ResponseType ResponseType
	// Scope is the space-separated scope granted.
	Scope string
	// AuthTime is when the code was issued (aioauth's auth_time).
	AuthTime time.Time
	// ExpiresIn is the lifetime of the code from AuthTime.
	ExpiresIn time.Duration
	// CodeChallenge is the PKCE code challenge, if any.
	CodeChallenge string
	// CodeChallengeMethod is the PKCE method; empty with a non-empty
	// CodeChallenge means plain (RFC 7636 4.3).
	CodeChallengeMethod CodeChallengeMethod
	// Nonce is the OpenID Connect nonce of the request, if any.
	Nonce string
	// UserID identifies the user who authorised the code.
	UserID string
	// GrantID identifies the grant (one authorization) the code belongs
	// to. The tokens issued from the code carry the same GrantID, so that
	// a replay of the code revokes them. Stores give a code created with
	// an empty GrantID a new random one and return it on every read.
	GrantID string
}

// ExpiresAt returns the instant the code expires: AuthTime + ExpiresIn.
func (a *AuthorizationCode) ExpiresAt() time.Time { return a.AuthTime.Add(a.ExpiresIn) }

// IsExpired reports whether the code has expired at time.Now().
func (a *AuthorizationCode) IsExpired() bool { return a.IsExpiredAt(time.Now()) }

// IsExpiredAt reports whether the code has expired at now. A code is still
// valid at the exact instant it expires and expired after it.
func (a *AuthorizationCode) IsExpiredAt(now time.Time) bool { return now.After(a.ExpiresAt()) }

// CheckCodeChallenge reports whether verifier matches the code's PKCE
// challenge (RFC 7636 4.6), comparing in constant time. It is false if the
// code has no challenge or the method is unknown.
//
// A verifier that is not 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636
// 4.1, see [ValidCodeVerifier]) never matches.
func (a *AuthorizationCode) CheckCodeChallenge(verifier string) bool {
	if a.CodeChallenge == "" || !ValidCodeVerifier(verifier) {
		return false
	}
	var computed string
	switch a.CodeChallengeMethod {
	case "", CodeChallengePlain:
		computed = verifier
	case CodeChallengeS256:
		sum := sha256.Sum256([]byte(verifier))
		computed = base64.RawURLEncoding.EncodeToString(sum[:])
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(computed), []byte(a.CodeChallenge)) == 1
}

// Token is an access token, with an optional refresh token, issued to a
// client.
type Token struct {
	// AccessToken is the access token. Stores keep only its digest; a token
	// read back by its refresh token has an empty AccessToken.
	AccessToken string
	// RefreshToken is the refresh token, empty if none was issued. Stores
	// keep only its digest; a token read back by its access token has an
	// empty RefreshToken.
	RefreshToken string
	// Scope is the space-separated scope granted.
	Scope string
	// IssuedAt is when the token was issued.
	IssuedAt time.Time
	// ExpiresIn is the lifetime of the access token from IssuedAt.
	ExpiresIn time.Duration
	// RefreshTokenExpiresIn is the lifetime of the refresh token from
	// IssuedAt; zero when there is no refresh token.
	RefreshTokenExpiresIn time.Duration
	// ClientID is the client the token was issued to. The server must check
	// it against the authenticated client on refresh and revocation
	// (RFC 6749 6, RFC 7009 2.1).
	ClientID string
	// TokenType is the token type, [DefaultTokenType] when empty.
	TokenType string
	// Revoked reports whether the token has been revoked.
	Revoked bool
	// UserID identifies the user the token was issued for, empty for a
	// client_credentials grant.
	UserID string
	// GrantID identifies the grant (one authorization) the token belongs
	// to: the GrantID of the code it was issued from, or of the token it
	// was refreshed from. Stores give a token created with an empty
	// GrantID a new random one and return it on every read.
	GrantID string
}

// Type returns TokenType, or [DefaultTokenType] if it is empty.
func (t *Token) Type() string {
	if t.TokenType == "" {
		return DefaultTokenType
	}
	return t.TokenType
}

// ExpiresAt returns the instant the access token expires.
func (t *Token) ExpiresAt() time.Time { return t.IssuedAt.Add(t.ExpiresIn) }

// RefreshTokenExpiresAt returns the instant the refresh token expires. It
// equals IssuedAt for a token without a refresh lifetime.
func (t *Token) RefreshTokenExpiresAt() time.Time { return t.IssuedAt.Add(t.RefreshTokenExpiresIn) }

// IsExpired reports whether the access token has expired at time.Now().
func (t *Token) IsExpired() bool { return t.IsExpiredAt(time.Now()) }

// IsExpiredAt reports whether the access token has expired at now. It is
// still valid at the exact instant it expires and expired after it.
func (t *Token) IsExpiredAt(now time.Time) bool { return now.After(t.ExpiresAt()) }

// RefreshTokenExpired reports whether the refresh token has expired at
// time.Now().
func (t *Token) RefreshTokenExpired() bool { return t.RefreshTokenExpiredAt(time.Now()) }

// RefreshTokenExpiredAt reports whether the refresh token has expired at
// now. It is still valid at the exact instant it expires and expired after
// it. A token without a refresh lifetime has none to expire, so this is
// true for it: there is nothing to refresh with.
func (t *Token) RefreshTokenExpiredAt(now time.Time) bool {
	if t.RefreshTokenExpiresIn <= 0 {
		return true
	}
	return now.After(t.RefreshTokenExpiresAt())
}
