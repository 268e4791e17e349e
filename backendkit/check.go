package backendkit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Precision is the precision stores keep instants and lifetimes at.
const Precision = time.Millisecond

// Truncate returns t in UTC, truncated to [Precision]: the form in which
// every store persists and returns instants.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// CeilMillis returns now in unix milliseconds, rounded up. A record stored
// with an expiry of e whole unix milliseconds is expired at now exactly
// when e < CeilMillis(now): the integer form of the expiry rule, for
// decisions taken inside a database or a script.
func CeilMillis(now time.Time) int64 {
	v := now.UnixMilli()
	if now.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}

// MaxIDLen is the longest client ID and grant ID, in bytes, a store
// accepts: the width of the indexed ID columns of a SQL backend.
const MaxIDLen = 255

// grantIDBytes is the entropy of a grant ID: 128 bits.
const grantIDBytes = 16

// NewGrantID returns a new random grant ID: 128 bits from crypto/rand,
// base64url-encoded without padding (22 characters).
func NewGrantID() string {
	var b [grantIDBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NormalizeClient validates c for [storage.ClientStore.CreateClient] and
// returns a copy with its slices copied, so the caller's value is never
// aliased. Errors wrap [storage.ErrInvalid].
func NormalizeClient(c *models.Client) (models.Client, error) {
	if c == nil {
		return models.Client{}, fmt.Errorf("create client: nil client: %w", storage.ErrInvalid)
	}
	if c.ClientID == "" {
		return models.Client{}, fmt.Errorf("create client: empty client ID: %w", storage.ErrInvalid)
	}
	for _, g := range c.GrantTypes {
		if !g.Valid() {
			return models.Client{}, fmt.Errorf("create client %q: unknown grant type %q: %w", c.ClientID, g, storage.ErrInvalid)
		}
	}
	for _, r := range c.ResponseTypes {
		if !r.Valid() {
			return models.Client{}, fmt.Errorf("create client %q: unknown response type %q: %w", c.ClientID, r, storage.ErrInvalid)
		}
	}
	for _, u := range c.RedirectURIs {
		if u == "" {
			return models.Client{}, fmt.Errorf("create client %q: empty redirect URI: %w", c.ClientID, storage.ErrInvalid)
		}
	}
	out := c.Clone()
	out.SecretHash = ""
	return *out, nil
}

// NormalizeAuthorizationCode validates c for
// [storage.AuthorizationCodeStore.CreateAuthorizationCode] and returns a
// copy with AuthTime and ExpiresIn at [Precision], in UTC, and a new
// GrantID ([NewGrantID]) if c has none. Errors wrap [storage.ErrInvalid]
// and never contain the code.
func NormalizeAuthorizationCode(c *models.AuthorizationCode) (models.AuthorizationCode, error) {
	if c == nil {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: nil code: %w", storage.ErrInvalid)
	}
	if c.Code == "" {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: empty code: %w", storage.ErrInvalid)
	}
	if c.ClientID == "" {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code: empty client ID: %w", storage.ErrInvalid)
	}
	if c.AuthTime.IsZero() {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: zero auth time: %w", c.ClientID, storage.ErrInvalid)
	}
	out := *c
	out.AuthTime = Truncate(c.AuthTime)
	out.ExpiresIn = c.ExpiresIn.Truncate(Precision)
	if out.ExpiresIn <= 0 {
		return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: lifetime %v is under %v: %w", c.ClientID, c.ExpiresIn, Precision, storage.ErrInvalid)
	}
	if c.CodeChallengeMethod != "" {
		if !c.CodeChallengeMethod.Valid() {
			return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: unknown code challenge method %q: %w", c.ClientID, c.CodeChallengeMethod, storage.ErrInvalid)
		}
		if c.CodeChallenge == "" {
			return models.AuthorizationCode{}, fmt.Errorf("create authorization code for client %q: code challenge method without a challenge: %w", c.ClientID, storage.ErrInvalid)
		}
	}
	if err := checkGrantID("create authorization code", c.ClientID, c.GrantID); err != nil {
		return models.AuthorizationCode{}, err
	}
	if out.GrantID == "" {
		out.GrantID = NewGrantID()
	}
	return out, nil
}

func checkGrantID(op, clientID, grantID string) error {
	if len(grantID) > MaxIDLen {
		return fmt.Errorf("%s for client %q: grant ID of %d bytes is longer than %d: %w", op, clientID, len(grantID), MaxIDLen, storage.ErrInvalid)
	}
	return nil
}

// NormalizeToken validates t for [storage.TokenStore.CreateToken] and
// returns a copy with IssuedAt and lifetimes at [Precision], in UTC,
// TokenType set, and a new GrantID ([NewGrantID]) if t has none. Errors
// wrap [storage.ErrInvalid] and never contain a token.
func NormalizeToken(t *models.Token) (models.Token, error) {
	out, err := normalizeToken("create token", t)
	if err == nil && out.GrantID == "" {
		out.GrantID = NewGrantID()
	}
	return out, err
}

// NormalizeSuccessor validates next, the new pair of
// [storage.TokenStore.RotateToken], as [NormalizeToken] does, but leaves an
// empty GrantID empty: [Successor] gives it the GrantID of the pair it
// replaces.
func NormalizeSuccessor(next *models.Token) (models.Token, error) {
	return normalizeToken("rotate token", next)
}

func normalizeToken(op string, t *models.Token) (models.Token, error) {
	if t == nil {
		return models.Token{}, fmt.Errorf("%s: nil token: %w", op, storage.ErrInvalid)
	}
	if t.AccessToken == "" {
		return models.Token{}, fmt.Errorf("%s: empty access token: %w", op, storage.ErrInvalid)
	}
	if t.ClientID == "" {
		return models.Token{}, fmt.Errorf("%s: empty client ID: %w", op, storage.ErrInvalid)
	}
	if t.IssuedAt.IsZero() {
		return models.Token{}, fmt.Errorf("%s for client %q: zero issue time: %w", op, t.ClientID, storage.ErrInvalid)
	}
	if t.Revoked {
		return models.Token{}, fmt.Errorf("%s for client %q: a token is created live, not revoked: %w", op, t.ClientID, storage.ErrInvalid)
	}
	if err := checkGrantID(op, t.ClientID, t.GrantID); err != nil {
		return models.Token{}, err
	}
	out := *t
	out.IssuedAt = Truncate(t.IssuedAt)
	out.ExpiresIn = t.ExpiresIn.Truncate(Precision)
	out.RefreshTokenExpiresIn = t.RefreshTokenExpiresIn.Truncate(Precision)
	out.TokenType = t.Type()
	if out.ExpiresIn <= 0 {
		return models.Token{}, fmt.Errorf("%s for client %q: access lifetime %v is under %v: %w", op, t.ClientID, t.ExpiresIn, Precision, storage.ErrInvalid)
	}
	switch {
	case t.RefreshToken != "" && out.RefreshTokenExpiresIn <= 0:
		return models.Token{}, fmt.Errorf("%s for client %q: refresh token with a refresh lifetime of %v: %w", op, t.ClientID, t.RefreshTokenExpiresIn, storage.ErrInvalid)
	case t.RefreshToken == "" && t.RefreshTokenExpiresIn != 0:
		return models.Token{}, fmt.Errorf("%s for client %q: refresh lifetime without a refresh token: %w", op, t.ClientID, storage.ErrInvalid)
	case t.RefreshToken != "" && t.RefreshToken == t.AccessToken:
		return models.Token{}, fmt.Errorf("%s for client %q: refresh token equals access token: %w", op, t.ClientID, storage.ErrInvalid)
	}
	return out, nil
}

// Successor checks next, as returned by [NormalizeSuccessor], against old,
// the stored pair it replaces: a different ClientID or GrantID is
// [storage.ErrInvalid]. An empty next.GrantID becomes old's.
func Successor(old *models.Token, next *models.Token) error {
	if next.ClientID != old.ClientID {
		return fmt.Errorf("rotate token of client %q: the next pair is for client %q: %w", old.ClientID, next.ClientID, storage.ErrInvalid)
	}
	switch next.GrantID {
	case "":
		next.GrantID = old.GrantID
	case old.GrantID:
	default:
		return fmt.Errorf("rotate token of client %q: the next pair belongs to another grant: %w", old.ClientID, storage.ErrInvalid)
	}
	return nil
}

// ReuseWithinInterval reports whether a replay at now of a refresh token
// rotated at rotatedAt falls within a reuse interval: then
// [storage.TokenStore.RotateToken] fails with [storage.ErrRevoked] without
// revoking the grant. A zero rotatedAt (the pair was revoked, not rotated)
// or a non-positive interval is never within. The interval includes its
// end, as lifetimes do.
func ReuseWithinInterval(rotatedAt time.Time, interval time.Duration, now time.Time) bool {
	return interval > 0 && !rotatedAt.IsZero() && !now.After(rotatedAt.Add(interval))
}

// ReuseError is the error [storage.TokenStore.RotateToken] returns for the
// reuse of the refresh token of a pair of clientID; revoked says whether
// the grant was revoked for it (false within a reuse interval).
func ReuseError(clientID string, grantRevoked bool) error {
	if grantRevoked {
		return fmt.Errorf("rotate token of client %q: refresh token reused, its grant is revoked: %w", clientID, storage.ErrRevoked)
	}
	return fmt.Errorf("rotate token of client %q: refresh token replayed within the reuse interval: %w", clientID, storage.ErrRevoked)
}

// CheckCode returns nil if a stored code may be returned as live at now:
// [storage.ErrAlreadyUsed] if used (expired or not), else
// [storage.ErrExpired] if expired.
func CheckCode(c *models.AuthorizationCode, used bool, now time.Time) error {
	if used {
		return fmt.Errorf("authorization code of client %q: %w", c.ClientID, storage.ErrAlreadyUsed)
	}
	if c.IsExpiredAt(now) {
		return fmt.Errorf("authorization code of client %q expired at %s: %w", c.ClientID, c.ExpiresAt().Format(time.RFC3339Nano), storage.ErrExpired)
	}
	return nil
}

// CheckAccess returns nil if a stored token may be returned as live by its
// access token at now: [storage.ErrRevoked] if revoked, else
// [storage.ErrExpired] if the access lifetime has ended.
func CheckAccess(t *models.Token, now time.Time) error {
	if t.Revoked {
		return fmt.Errorf("access token of client %q: %w", t.ClientID, storage.ErrRevoked)
	}
	if t.IsExpiredAt(now) {
		return fmt.Errorf("access token of client %q expired at %s: %w", t.ClientID, t.ExpiresAt().Format(time.RFC3339Nano), storage.ErrExpired)
	}
	return nil
}

// CheckRefresh returns nil if a stored token may be returned as live by its
// refresh token at now: [storage.ErrRevoked] if revoked, else
// [storage.ErrExpired] if the refresh lifetime has ended.
func CheckRefresh(t *models.Token, now time.Time) error {
	if t.Revoked {
		return fmt.Errorf("refresh token of client %q: %w", t.ClientID, storage.ErrRevoked)
	}
	if t.RefreshTokenExpiredAt(now) {
		return fmt.Errorf("refresh token of client %q expired at %s: %w", t.ClientID, t.RefreshTokenExpiresAt().Format(time.RFC3339Nano), storage.ErrExpired)
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
