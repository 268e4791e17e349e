package backendkit

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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

// MaxIDLen is [storage.MaxIDLen].
const MaxIDLen = storage.MaxIDLen

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
	v := validator{op: "create client", clientID: c.ClientID}
	v.id("client ID", c.ClientID, true)
	v.credential("client secret", c.ClientSecret, false)
	seenGrant := map[models.GrantType]bool{}
	for _, g := range c.GrantTypes {
		switch {
		case !g.Valid():
			v.fail("unknown grant type %s", quote(string(g)))
		case seenGrant[g]:
			v.fail("grant type %q listed twice", g)
		}
		seenGrant[g] = true
	}
	seenResp := map[models.ResponseType]bool{}
	for _, r := range c.ResponseTypes {
		switch {
		case !r.Valid():
			v.fail("unknown response type %s", quote(string(r)))
		case seenResp[r]:
			v.fail("response type %q listed twice", r)
		}
		seenResp[r] = true
	}
	if len(c.RedirectURIs) > storage.MaxRedirectURIs {
		v.fail("%d redirect URIs, more than %d", len(c.RedirectURIs), storage.MaxRedirectURIs)
	}
	seenURI := map[string]bool{}
	for i, u := range c.RedirectURIs {
		name := fmt.Sprintf("redirect URI %d", i+1)
		if u == "" {
			v.fail("empty %s", name)
		}
		v.text(name, u, storage.MaxRedirectURILen)
		if err := models.ValidateRedirectURI(u); err != nil && u != "" {
			v.fail("%s: %v", name, err)
		}
		if seenURI[u] {
			v.fail("%s listed twice", name)
		}
		seenURI[u] = true
	}
	v.text("scope", c.Scope, storage.MaxScopeLen)
	v.id("user ID", c.UserID, false)
	if v.err != nil {
		return models.Client{}, v.err
	}
	out := c.Clone()
	out.SecretHash = ""
	out.PreviousSecretValidUntil = time.Time{}
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
	v := validator{op: "create authorization code", clientID: c.ClientID}
	v.credential("code", c.Code, true)
	v.id("client ID", c.ClientID, true)
	v.text("redirect URI", c.RedirectURI, storage.MaxRedirectURILen)
	v.text("response type", string(c.ResponseType), storage.MaxShortLen)
	v.text("scope", c.Scope, storage.MaxScopeLen)
	v.text("code challenge", c.CodeChallenge, storage.MaxCodeChallengeLen)
	v.text("nonce", c.Nonce, storage.MaxNonceLen)
	v.id("user ID", c.UserID, false)
	v.id("grant ID", c.GrantID, false)
	if c.AuthTime.IsZero() {
		v.fail("zero auth time")
	}
	out := *c
	out.AuthTime = Truncate(c.AuthTime)
	out.ExpiresIn = c.ExpiresIn.Truncate(Precision)
	if out.ExpiresIn <= 0 {
		v.fail("lifetime %v is under %v", c.ExpiresIn, Precision)
	}
	if c.RedirectURI != "" {
		if err := models.ValidateRedirectURI(c.RedirectURI); err != nil {
			v.fail("%v", err)
		}
	}
	switch {
	case c.CodeChallengeMethod != "" && !c.CodeChallengeMethod.Valid():
		v.fail("unknown code challenge method %s", quote(string(c.CodeChallengeMethod)))
	case c.CodeChallengeMethod != "" && c.CodeChallenge == "":
		v.fail("code challenge method without a challenge")
	case c.CodeChallenge != "" && !models.ValidCodeChallenge(c.CodeChallenge, c.CodeChallengeMethod):
		v.fail("malformed %s code challenge (RFC 7636 4.2)", cmp.Or(c.CodeChallengeMethod, models.CodeChallengePlain))
	}
	if v.err != nil {
		return models.AuthorizationCode{}, v.err
	}
	if out.GrantID == "" {
		out.GrantID = NewGrantID()
	}
	return out, nil
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
	v := validator{op: op, clientID: t.ClientID}
	v.credential("access token", t.AccessToken, true)
	v.credential("refresh token", t.RefreshToken, false)
	v.id("client ID", t.ClientID, true)
	v.text("scope", t.Scope, storage.MaxScopeLen)
	v.text("token type", t.TokenType, storage.MaxShortLen)
	v.id("user ID", t.UserID, false)
	v.id("grant ID", t.GrantID, false)
	if t.IssuedAt.IsZero() {
		v.fail("zero issue time")
	}
	if t.Revoked {
		v.fail("a token is created live, not revoked")
	}
	out := *t
	out.IssuedAt = Truncate(t.IssuedAt)
	out.ExpiresIn = t.ExpiresIn.Truncate(Precision)
	out.RefreshTokenExpiresIn = t.RefreshTokenExpiresIn.Truncate(Precision)
	out.TokenType = t.Type()
	if out.ExpiresIn <= 0 {
		v.fail("access lifetime %v is under %v", t.ExpiresIn, Precision)
	}
	switch {
	case t.RefreshToken != "" && out.RefreshTokenExpiresIn <= 0:
		v.fail("refresh token with a refresh lifetime of %v", t.RefreshTokenExpiresIn)
	case t.RefreshToken == "" && t.RefreshTokenExpiresIn != 0:
		v.fail("refresh lifetime without a refresh token")
	case t.RefreshToken != "" && t.RefreshToken == t.AccessToken:
		v.fail("refresh token equals access token")
	}
	if v.err != nil {
		return models.Token{}, v.err
	}
	return out, nil
}

// LookupID reports whether id could be a stored client ID or grant ID:
// non-empty, at most [storage.MaxIDLen] bytes of valid UTF-8 without NUL.
// A backend answers [storage.ErrNotFound] for any other without asking its
// database, which may reject such a value with an error of its own.
func LookupID(id string) bool {
	return id != "" && len(id) <= storage.MaxIDLen && storable(id)
}

// storable reports whether s is valid UTF-8 without NUL bytes.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// validator collects the first problem of a record being validated, as an
// error wrapping [storage.ErrInvalid]. Its messages name fields and sizes,
// never a credential's value.
type validator struct {
	op, clientID string
	err          error
}

func (v *validator) fail(format string, args ...any) {
	if v.err != nil {
		return
	}
	what := v.op
	if v.clientID != "" && LookupID(v.clientID) {
		what += fmt.Sprintf(" for client %q", v.clientID)
	}
	v.err = fmt.Errorf("%s: %s: %w", what, fmt.Sprintf(format, args...), storage.ErrInvalid)
}

// text checks a field that may be empty: valid UTF-8, no NUL, at most max
// bytes.
func (v *validator) text(name, s string, max int) {
	switch {
	case len(s) > max:
		v.fail("%s of %d bytes is longer than %d", name, len(s), max)
	case !utf8.ValidString(s):
		v.fail("%s is not valid UTF-8", name)
	case strings.IndexByte(s, 0) >= 0:
		v.fail("%s contains a NUL byte", name)
	}
}

func (v *validator) id(name, s string, required bool) {
	if required && s == "" {
		v.fail("empty %s", name)
	}
	v.text(name, s, storage.MaxIDLen)
}

func (v *validator) credential(name, s string, required bool) {
	if required && s == "" {
		v.fail("empty %s", name)
	}
	v.text(name, s, storage.MaxCredentialLen)
}

// quote quotes a short invalid enumeration value for an error message,
// cut to 32 bytes.
func quote(s string) string {
	if len(s) > 32 {
		return fmt.Sprintf("%q...", s[:32])
	}
	return fmt.Sprintf("%q", s)
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
