package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/models"
)

// The helpers in this file hold the rules every backend applies in the same
// way, so that backends only decide how to persist.

// Precision is the precision stores keep instants and lifetimes at.
const Precision = time.Millisecond

// Truncate returns t in UTC, truncated to [Precision]: the form in which
// every store persists and returns instants.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// NormalizeClient validates c for [ClientStore.CreateClient] and returns a
// copy with its slices copied, so the caller's value is never aliased. Errors
// wrap [ErrInvalid].
func NormalizeClient(c *models.Client) (models.Client, error) {
	if c == nil {
		return models.Client{}, fmt.Errorf("create client: nil client: %w", ErrInvalid)
	}
	if c.ClientID == "" {
		return models.Client{}, fmt.Errorf("create client: empty client ID: %w", ErrInvalid)
	}
	for _, g := range c.GrantTypes {
		if !g.Valid() {
			return models.Client{}, fmt.Errorf("create client %q: unknown grant type %q: %w", c.ClientID, g, ErrInvalid)
		}
	}
	for _, r := range c.ResponseTypes {
		if !r.Valid() {
			return models.Client{}, fmt.Errorf("create client %q: unknown response type %q: %w", c.ClientID, r, ErrInvalid)
		}
	}
	for _, u := range c.RedirectURIs {
		if u == "" {
			return models.Client{}, fmt.Errorf("create client %q: empty redirect URI: %w", c.ClientID, ErrInvalid)
		}
	}
	out := c.Clone()
	out.SecretHash = ""
	return *out, nil
}

// NormalizeAuthorizationCode validates c for
// [AuthorizationCodeStore.CreateAuthorizationCode] and returns a copy with
// AuthTime and ExpiresIn at [Precision], in UTC. Errors wrap [ErrInvalid] and
// never contain the code.
func NormalizeAuthorizationCode(c *models.AuthorizationCode) (models.AuthorizationCode, error) {
	if c == nil {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: nil code: %w", ErrInvalid)
	}
	if c.Code == "" {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: empty code: %w", ErrInvalid)
	}
	if c.ClientID == "" {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: empty client ID: %w", ErrInvalid)
	}
	if c.AuthTime.IsZero() {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: zero auth time: %w", c.ClientID, ErrInvalid)
	}
	out := *c
	out.AuthTime = Truncate(c.AuthTime)
	out.ExpiresIn = c.ExpiresIn.Truncate(Precision)
	if out.ExpiresIn <= 0 {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: lifetime %v is under %v: %w", c.ClientID, c.ExpiresIn, Precision, ErrInvalid)
	}
	if c.CodeChallengeMethod != "" {
		if !c.CodeChallengeMethod.Valid() {
			return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: unknown code challenge method %q: %w", c.ClientID, c.CodeChallengeMethod, ErrInvalid)
		}
		if c.CodeChallenge == "" {
			return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: code challenge method without a challenge: %w", c.ClientID, ErrInvalid)
		}
	}
	return out, nil
}

// NormalizeToken validates t for [TokenStore.CreateToken] and returns a copy
// with IssuedAt and lifetimes at [Precision], in UTC, and TokenType set.
// Errors wrap [ErrInvalid] and never contain a token.
func NormalizeToken(t *models.Token) (models.Token, error) {
	if t == nil {
		return models.Token{}, fmt.Errorf("create token: nil token: %w", ErrInvalid)
	}
	if t.AccessToken == "" {
		return models.Token{}, fmt.Errorf("create token: empty access token: %w", ErrInvalid)
	}
	if t.ClientID == "" {
		return models.Token{}, fmt.Errorf("create token: empty client ID: %w", ErrInvalid)
	}
	if t.IssuedAt.IsZero() {
		return models.Token{}, fmt.Errorf("create token for client %q: zero issue time: %w", t.ClientID, ErrInvalid)
	}
	out := *t
	out.IssuedAt = Truncate(t.IssuedAt)
	out.ExpiresIn = t.ExpiresIn.Truncate(Precision)
	out.RefreshTokenExpiresIn = t.RefreshTokenExpiresIn.Truncate(Precision)
	out.TokenType = t.Type()
	if out.ExpiresIn <= 0 {
		return models.Token{}, fmt.Errorf("create token for client %q: access lifetime %v is under %v: %w", t.ClientID, t.ExpiresIn, Precision, ErrInvalid)
	}
	switch {
	case t.RefreshToken != "" && out.RefreshTokenExpiresIn <= 0:
		return models.Token{}, fmt.Errorf("create token for client %q: refresh token with a refresh lifetime of %v: %w", t.ClientID, t.RefreshTokenExpiresIn, ErrInvalid)
	case t.RefreshToken == "" && t.RefreshTokenExpiresIn != 0:
		return models.Token{}, fmt.Errorf("create token for client %q: refresh lifetime without a refresh token: %w", t.ClientID, ErrInvalid)
	case t.RefreshToken != "" && t.RefreshToken == t.AccessToken:
		return models.Token{}, fmt.Errorf("create token for client %q: refresh token equals access token: %w", t.ClientID, ErrInvalid)
	}
	return out, nil
}

// CheckCode returns nil if a stored code may be returned as live at now:
// [ErrAlreadyUsed] if used (expired or not), else [ErrExpired] if expired.
func CheckCode(c *models.AuthorizationCode, used bool, now time.Time) error {
	if used {
		return fmt.Errorf("authorization code of client %q: %w", c.ClientID, ErrAlreadyUsed)
	}
	if c.IsExpiredAt(now) {
		return fmt.Errorf("authorization code of client %q expired at %s: %w", c.ClientID, c.ExpiresAt().Format(time.RFC3339Nano), ErrExpired)
	}
	return nil
}

// CheckAccess returns nil if a stored token may be returned as live by its
// access token at now: [ErrRevoked] if revoked, else [ErrExpired] if the
// access lifetime has ended.
func CheckAccess(t *models.Token, now time.Time) error {
	if t.Revoked {
		return fmt.Errorf("access token of client %q: %w", t.ClientID, ErrRevoked)
	}
	if t.IsExpiredAt(now) {
		return fmt.Errorf("access token of client %q expired at %s: %w", t.ClientID, t.ExpiresAt().Format(time.RFC3339Nano), ErrExpired)
	}
	return nil
}

// CheckRefresh returns nil if a stored token may be returned as live by its
// refresh token at now: [ErrRevoked] if revoked, else [ErrExpired] if the
// refresh lifetime has ended.
func CheckRefresh(t *models.Token, now time.Time) error {
	if t.Revoked {
		return fmt.Errorf("refresh token of client %q: %w", t.ClientID, ErrRevoked)
	}
	if t.RefreshTokenExpiredAt(now) {
		return fmt.Errorf("refresh token of client %q expired at %s: %w", t.ClientID, t.RefreshTokenExpiresAt().Format(time.RFC3339Nano), ErrExpired)
	}
	return nil
}

// PurgeAt returns the instant after which a token may be purged: the later
// of its access and refresh expiry. Backends index it so PurgeExpired is one
// range scan.
func PurgeAt(t *models.Token) time.Time {
	a, r := t.ExpiresAt(), t.RefreshTokenExpiresAt()
	if r.After(a) {
		return r
	}
	return a
}

// CtxErr returns ctx's error wrapped with op, or nil if ctx is not done.
// Stores call it before any work so a cancelled context writes nothing.
func CtxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
