package storage

import (
	"context"
	"errors"

	"github.com/oauthstore/oauthstore/models"
)

// Sentinel errors. Stores wrap them with context; match them with
// [errors.Is]. No error a store returns contains a secret, code or token.
var (
	// ErrNotFound: no record has that client ID or credential.
	ErrNotFound = errors.New("oauthstore: not found")
	// ErrAlreadyExists: a record with that client ID or credential exists.
	ErrAlreadyExists = errors.New("oauthstore: already exists")
	// ErrExpired: the code or token exists but its lifetime has ended.
	ErrExpired = errors.New("oauthstore: expired")
	// ErrRevoked: the token exists but has been revoked.
	ErrRevoked = errors.New("oauthstore: revoked")
	// ErrAlreadyUsed: the authorization code has already been consumed.
	ErrAlreadyUsed = errors.New("oauthstore: authorization code already used")
	// ErrInvalid: the record given to a Create method is malformed.
	ErrInvalid = errors.New("oauthstore: invalid")
	// ErrInvalidSecret: the client exists but the secret does not match, or
	// the client is public and has no secret to match.
	ErrInvalidSecret = errors.New("oauthstore: invalid client secret")
)

// ClientStore persists OAuth 2.0 clients.
type ClientStore interface {
	// CreateClient stores c. Its ClientSecret is kept only as a salted slow
	// hash; an empty ClientSecret makes a public client. A missing
	// ClientID, an unknown grant or response type, or an empty redirect URI
	// is [ErrInvalid]; a taken ClientID is [ErrAlreadyExists]. On error
	// nothing is written. c is not modified.
	CreateClient(ctx context.Context, c *models.Client) error

	// GetClient returns the client with that ID, or [ErrNotFound]. The
	// returned client never carries the secret: ClientSecret is empty and
	// SecretHash is set for a confidential client, so [models.Client.IsPublic]
	// tells public clients apart.
	GetClient(ctx context.Context, clientID string) (*models.Client, error)

	// AuthenticateClient returns the client if clientSecret matches its
	// stored hash. An unknown client is [ErrNotFound]; a wrong secret, an
	// empty one, or a public client is [ErrInvalidSecret]. The returned
	// client is as from GetClient.
	AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error)

	// DeleteClient deletes the client and makes every authorization code
	// and token issued to that client ID unusable (they are deleted, so
	// later lookups return [ErrNotFound]). Codes and tokens are removed even
	// if the client itself is not stored here; [ErrNotFound] then reports
	// that no client was.
	DeleteClient(ctx context.Context, clientID string) error
}

// AuthorizationCodeStore persists authorization codes.
//
// Codes are looked up by the code alone. Every returned record carries its
// ClientID: the server must compare it with the authenticated client before
// issuing tokens (RFC 6749 4.1.3). Codes do not require their client to be
// stored in the same store.
type AuthorizationCodeStore interface {
	// CreateAuthorizationCode stores c, keeping only a digest of c.Code. A
	// missing Code or ClientID, a zero AuthTime, a lifetime under one
	// millisecond or an unknown PKCE method is [ErrInvalid]; a code that is
	// already stored is [ErrAlreadyExists]. On error nothing is written.
	// An empty GrantID gives the code a new random one, returned by every
	// later read; c itself is not modified.
	CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error

	// GetAuthorizationCode returns the code without consuming it.
	// An unknown or purged code is [ErrNotFound]; a consumed one
	// [ErrAlreadyUsed], whether or not it has expired since; an expired one
	// [ErrExpired].
	GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error)

	// ConsumeAuthorizationCode marks the code used and returns it. It is
	// atomic: of any number of concurrent callers exactly one succeeds, and
	// every later call returns [ErrAlreadyUsed] until the code expires and
	// is purged. A used code is kept, marked, so that a replay
	// ([ErrAlreadyUsed]) can be told from a typo ([ErrNotFound]). An
	// expired code is [ErrExpired] and is not consumed.
	//
	// A replay also revokes every token of the code's grant (RFC 6749
	// 4.1.2): the tokens issued from the code, and those refreshed from
	// them, stop working. [AuthorizationCodeStore.GetAuthorizationCode]
	// never does this: it is a pure read.
	ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error)

	// DeleteAuthorizationCode deletes the code, used or not; an unknown code
	// is [ErrNotFound].
	DeleteAuthorizationCode(ctx context.Context, code string) error
}

// TokenStore persists access tokens and their optional refresh tokens.
//
// Tokens are looked up by the access or the refresh token alone. Every
// returned record carries its ClientID: the server must compare it with the
// authenticated client on refresh and revocation (RFC 6749 6, RFC 7009 2.1).
// Only digests of the two credentials are stored, so a token read back by
// one credential carries that credential and an empty other one: it cannot
// be recovered from storage.
type TokenStore interface {
	// CreateToken stores t. A missing AccessToken or ClientID, a zero
	// IssuedAt, an access lifetime under one millisecond, a refresh token
	// without a refresh lifetime (or the reverse), or a refresh token equal
	// to the access token is [ErrInvalid]. An access token or refresh token
	// that is already stored is [ErrAlreadyExists]. On error nothing is
	// written. An empty TokenType is stored as [models.DefaultTokenType].
	// An empty GrantID gives the token a new random one, returned by every
	// later read; t itself is not modified. A token with Revoked set is
	// [ErrInvalid]: tokens are created live.
	CreateToken(ctx context.Context, t *models.Token) error

	// GetTokenByAccess returns the token whose access token this is,
	// judging the access lifetime: unknown or purged is [ErrNotFound],
	// revoked is [ErrRevoked], expired is [ErrExpired].
	GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error)

	// GetTokenByRefresh returns the token whose refresh token this is,
	// judging the refresh lifetime: unknown or purged is [ErrNotFound],
	// revoked is [ErrRevoked], expired is [ErrExpired].
	GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error)

	// RevokeToken revokes the pair that token belongs to, given either its
	// access or its refresh token: both stop working. Revoking a revoked
	// or expired token again is not an error; an unknown token is
	// [ErrNotFound]. Access and refresh tokens are looked up apart, so an
	// access token may equal another pair's refresh token (CreateToken
	// accepts it); RevokeToken of such a value revokes both pairs.
	RevokeToken(ctx context.Context, token string) error

	// RotateToken exchanges the refresh token of a live pair for the pair
	// next, atomically: the old pair is revoked and next is stored, both or
	// neither. It is the refresh of RFC 6749 6 with rotation and reuse
	// detection (RFC 9700 4.14.2):
	//
	//   - The pair of refreshToken is live (not revoked, refresh lifetime
	//     not over): it is revoked and next is stored. next is validated
	//     as by CreateToken ([ErrInvalid], [ErrAlreadyExists]); an empty
	//     next.GrantID inherits the old pair's, and a different GrantID or
	//     ClientID is [ErrInvalid]. next itself is not modified.
	//   - Of any number of concurrent calls with the same refresh token
	//     exactly one succeeds.
	//   - The pair was already revoked, by an earlier rotation or by
	//     RevokeToken or RevokeGrant: this is a reuse. Every token of its
	//     grant is revoked, the successors included, and the error matches
	//     [ErrRevoked]. A call that lost a race for the same refresh token
	//     is a reuse too. Reuse is judged on the refresh token alone:
	//     whatever well-formed next pair it is sent with, whichever client
	//     it names, so that a server can report the replay of a refresh
	//     token it has already refused to refresh. A store may offer a reuse interval, a short grace
	//     after a rotation in which a replay of the rotated token fails
	//     with [ErrRevoked] without revoking the grant; by default there is
	//     none.
	//   - The refresh lifetime is over: [ErrExpired], and nothing changes.
	//   - An unknown or purged refresh token (or an empty one) is
	//     [ErrNotFound].
	//
	// The server must check, before calling it, that the refresh token was
	// issued to the authenticated client (RFC 6749 6).
	RotateToken(ctx context.Context, refreshToken string, next *models.Token) error
}

// Storage is the whole contract a backend implements. Every method takes ctx
// first and returns an error wrapping ctx.Err() once ctx is done, writing
// nothing. Every expiry decision uses the store's injected clock, never the
// database's own notion of now. Times round-trip to the millisecond, in UTC.
type Storage interface {
	ClientStore
	ClientManager
	AuthorizationCodeStore
	TokenStore

	// RevokeGrant revokes every token of the grant and makes its unused
	// authorization codes unusable: they are marked used, so exchanging
	// one is [ErrAlreadyUsed]. Revoking a revoked grant again is not an
	// error; a grant of which no code or token is stored is [ErrNotFound].
	RevokeGrant(ctx context.Context, grantID string) error

	// PurgeExpired deletes every authorization code past its expiry (used
	// or not) and every token whose access and refresh lifetimes have both
	// ended, and returns how many records it deleted: a code is one record
	// and a token pair is one record. Clients are never purged. Revoked
	// tokens are kept until they expire, so that a replayed one is still
	// told apart as [ErrRevoked] and its reuse still revokes its grant.
	// Package purger calls it in the background at an interval.
	PurgeExpired(ctx context.Context) (int64, error)
}
