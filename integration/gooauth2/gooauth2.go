package gooauth2

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	omodels "github.com/go-oauth2/oauth2/v4/models"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// NoExpiry is the lifetime stored for a code, access token or refresh token
// that go-oauth2 creates with an expires-in of 0, which go-oauth2 reads as
// "never expires". Stores need a positive lifetime, so such a credential is
// stored as living this long, about a hundred years, and is read back with
// an expires-in of 0 again.
const NoExpiry = 100 * 365 * 24 * time.Hour

// TokenStore is the [oauth2.TokenStore] [NewTokenStore] returns.
type TokenStore struct {
	s storage.Storage
}

var _ oauth2.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns a go-oauth2 token store keeping authorization codes
// and tokens in s. Pass it to the manager's MapTokenStorage.
func NewTokenStore(s storage.Storage) *TokenStore {
	return &TokenStore{s: s}
}

// GrantIDKey is the key under which the adapter carries a code's GrantID
// to the tokens issued from it, in go-oauth2's [oauth2.ExtendableTokenInfo]
// extension: [TokenStore.GetByCode] sets it on the info it returns, the
// manager copies that info's extension onto the new token's info, and
// [TokenStore.Create] reads it, stores the token in the code's grant and
// deletes the key, so that it never reaches the server's
// ExtensionFieldsHandler and the token response.
//
// The key is reserved: a manager ExtractExtensionHandler must keep it (add
// to the extension, do not replace it) and must never set it, in
// particular not from request parameters, which would let a client pick the
// grant its token joins.
const GrantIDKey = "oauthstore_grant_id"

// reuseProbeClient is the client of the pair [TokenStore.GetByRefresh]
// hands RotateToken to report the reuse of a revoked refresh token; that
// pair is never stored (see reused).
const reuseProbeClient = "oauthstore-gooauth2-reuse-probe"

// TokenInfo is the [oauth2.TokenInfo] the [TokenStore] returns: go-oauth2's
// own token model, which also remembers the refresh token and the grant it
// was read by, so that [TokenStore.Create] recognises the manager's refresh.
type TokenInfo struct {
	*omodels.Token
	// readByRefresh is the refresh token this info was read by, if any.
	readByRefresh string
	// grantID is the GrantID of the pair read by readByRefresh.
	grantID string
}

var _ oauth2.ExtendableTokenInfo = (*TokenInfo)(nil)

// New implements [oauth2.TokenInfo].
func (t *TokenInfo) New() oauth2.TokenInfo { return omodels.NewToken() }

// lifetime maps a go-oauth2 expires-in (0: never) to a stored lifetime.
func lifetime(d time.Duration) time.Duration {
	if d == 0 {
		return NoExpiry
	}
	return d
}

// expiresIn maps a stored lifetime back to a go-oauth2 expires-in.
func expiresIn(d time.Duration) time.Duration {
	if d == NoExpiry {
		return 0
	}
	return d
}

// refreshLifetime is the stored refresh lifetime, counted from issued (the
// access create time), of info's refresh token. go-oauth2 gives the refresh
// token its own create time; its expiry instant is kept. An expires-in of 0
// is "never", whenever the refresh token was created: [NoExpiry] from
// issued.
func refreshLifetime(info oauth2.TokenInfo, issued time.Time) (time.Duration, error) {
	exp := info.GetRefreshExpiresIn()
	if exp == 0 {
		return NoExpiry, nil
	}
	rc := info.GetRefreshCreateAt()
	if rc.IsZero() {
		rc = issued
	}
	d := rc.Add(exp).Sub(issued)
	if d < backendkit.Precision {
		// The refresh token ends (nearly) before the new access token is
		// issued: there is nothing left to refresh with.
		return 0, oerrors.ErrExpiredRefreshToken
	}
	return d, nil
}

// takeGrantID returns the GrantID [TokenStore.GetByCode] put in info's
// extension under [GrantIDKey], and deletes it there.
func takeGrantID(info oauth2.TokenInfo) string {
	eti, ok := info.(oauth2.ExtendableTokenInfo)
	if !ok {
		return ""
	}
	ext := eti.GetExtension()
	if ext == nil {
		return ""
	}
	id := ext.Get(GrantIDKey)
	ext.Del(GrantIDKey)
	return id
}

// Create implements [oauth2.TokenStore]. An info with a code is stored as a
// [models.AuthorizationCode], any other as a [models.Token]. A code whose
// PKCE challenge is malformed for its method ([models.ValidCodeChallenge]:
// an S256 challenge is 43 base64url characters) is
// [oerrors.ErrInvalidRequest], which go-oauth2 answers with
// invalid_request. A token issued
// from a code (its info carries the code's GrantID under [GrantIDKey]) is
// stored in the code's grant; the key is then deleted from info.
//
// When info is the one [TokenStore.GetByRefresh] returned, the manager is
// refreshing. If it issued a new refresh token, the new pair replaces the
// old one through [storage.TokenStore.RotateToken], atomically: a refresh
// token works once, and of concurrent refreshes with one refresh token
// exactly one succeeds. A refresh token that was revoked meanwhile (a lost
// race, a reuse: the store then revokes the whole grant) or is unknown is
// [oerrors.ErrInvalidRefreshToken], an expired one
// [oerrors.ErrExpiredRefreshToken]; the server answers both with
// invalid_grant. If the manager kept the old refresh token, only the new
// access token is stored, in the old pair's grant, and the old refresh
// token stays the grant's handle.
func (ts *TokenStore) Create(ctx context.Context, info oauth2.TokenInfo) error {
	if info == nil {
		return fmt.Errorf("gooauth2: create: nil token info: %w", storage.ErrInvalid)
	}
	if code := info.GetCode(); code != "" {
		c := &models.AuthorizationCode{
			Code:         code,
			ClientID:     info.GetClientID(),
			RedirectURI:  info.GetRedirectURI(),
			ResponseType: models.ResponseTypeCode,
			Scope:        info.GetScope(),
			AuthTime:     info.GetCodeCreateAt(),
			ExpiresIn:    lifetime(info.GetCodeExpiresIn()),
			UserID:       info.GetUserID(),
		}
		if cc := info.GetCodeChallenge(); cc != "" {
			c.CodeChallenge = cc
			c.CodeChallengeMethod = models.CodeChallengeMethod(info.GetCodeChallengeMethod())
			if c.CodeChallengeMethod == "" {
				c.CodeChallengeMethod = models.CodeChallengePlain
			}
			if !models.ValidCodeChallenge(c.CodeChallenge, c.CodeChallengeMethod) {
				// go-oauth2 checks only the challenge's length; the store
				// would refuse it as ErrInvalid, which go-oauth2 answers
				// with server_error.
				return oerrors.ErrInvalidRequest
			}
		}
		return ts.s.CreateAuthorizationCode(ctx, c)
	}

	issued := info.GetAccessCreateAt()
	t := &models.Token{
		AccessToken: info.GetAccess(),
		Scope:       info.GetScope(),
		IssuedAt:    issued,
		ExpiresIn:   lifetime(info.GetAccessExpiresIn()),
		TokenType:   models.DefaultTokenType,
		UserID:      info.GetUserID(),
		ClientID:    info.GetClientID(),
	}
	if ti, ok := info.(*TokenInfo); ok && ti.readByRefresh != "" {
		return ts.createRefreshed(ctx, ti, t)
	}
	t.GrantID = takeGrantID(info)
	if refresh := info.GetRefresh(); refresh != "" {
		d, err := refreshLifetime(info, issued)
		if err != nil {
			return err
		}
		t.RefreshToken, t.RefreshTokenExpiresIn = refresh, d
	}
	return ts.s.CreateToken(ctx, t)
}

// createRefreshed stores t, the token the manager's refresh made of ti.
func (ts *TokenStore) createRefreshed(ctx context.Context, ti *TokenInfo, t *models.Token) error {
	refresh := ti.GetRefresh()
	if refresh == "" || refresh == ti.readByRefresh {
		// The manager keeps the old refresh token: it stays with its own
		// pair, and the new access token is stored alone in its grant.
		t.GrantID = ti.grantID
		return ts.s.CreateToken(ctx, t)
	}
	d, err := refreshLifetime(ti, t.IssuedAt)
	if err != nil {
		return err
	}
	t.RefreshToken, t.RefreshTokenExpiresIn = refresh, d
	// t.GrantID stays empty: RotateToken gives t the old pair's.
	err = ts.s.RotateToken(ctx, ti.readByRefresh, t)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrNotFound):
		return oerrors.ErrInvalidRefreshToken
	case errors.Is(err, storage.ErrExpired):
		return oerrors.ErrExpiredRefreshToken
	}
	return fmt.Errorf("gooauth2: rotating the refresh token of client %q: %w", t.ClientID, err)
}

// RemoveByCode implements [oauth2.TokenStore]. It makes the code unusable
// by consuming it, so a later exchange is still told apart as a replay; a
// code that is already used, expired or unknown is not an error. After
// [TokenStore.GetByCode] the code is already consumed and this does
// nothing: it reads the code first, and does not consume a used code again,
// which the store would take for a replay.
func (ts *TokenStore) RemoveByCode(ctx context.Context, code string) error {
	if code == "" {
		return nil
	}
	_, err := ts.s.GetAuthorizationCode(ctx, code)
	if err == nil {
		_, err = ts.s.ConsumeAuthorizationCode(ctx, code)
	}
	switch {
	case err == nil, errors.Is(err, storage.ErrAlreadyUsed), errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
		return nil
	}
	return err
}

// RemoveByAccess implements [oauth2.TokenStore]: it revokes the pair the
// access token belongs to, refresh token included. An empty or unknown
// access token is not an error; the manager's refresh passes "" because a
// token read by its refresh token does not carry its access token.
func (ts *TokenStore) RemoveByAccess(ctx context.Context, access string) error {
	return ts.revoke(ctx, access)
}

// RemoveByRefresh implements [oauth2.TokenStore]: it revokes the pair the
// refresh token belongs to. An empty or unknown refresh token is not an
// error.
func (ts *TokenStore) RemoveByRefresh(ctx context.Context, refresh string) error {
	return ts.revoke(ctx, refresh)
}

func (ts *TokenStore) revoke(ctx context.Context, token string) error {
	if token == "" {
		return backendkit.CtxErr(ctx, "gooauth2: revoke")
	}
	if err := ts.s.RevokeToken(ctx, token); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// GetByCode implements [oauth2.TokenStore]. It consumes the code
// atomically ([storage.AuthorizationCodeStore.ConsumeAuthorizationCode]):
// of concurrent exchanges of one code exactly one gets it, and every later
// call, as well as an unknown or expired code, returns
// [oerrors.ErrInvalidAuthorizeCode], which the server answers with
// invalid_grant. A used code is a replay: the store also revokes every token
// of the code's grant. A code whose exchange then fails (wrong client,
// redirect URI or PKCE verifier) stays consumed. The info returned carries
// the code's GrantID in its extension, under [GrantIDKey].
func (ts *TokenStore) GetByCode(ctx context.Context, code string) (oauth2.TokenInfo, error) {
	if code == "" {
		return nil, oerrors.ErrInvalidAuthorizeCode
	}
	c, err := ts.s.ConsumeAuthorizationCode(ctx, code)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyUsed) || errors.Is(err, storage.ErrExpired) {
			return nil, oerrors.ErrInvalidAuthorizeCode
		}
		return nil, err
	}
	t := omodels.NewToken()
	t.ClientID = c.ClientID
	t.UserID = c.UserID
	t.RedirectURI = c.RedirectURI
	t.Scope = c.Scope
	t.Code = code
	t.CodeCreateAt = c.AuthTime
	t.CodeExpiresIn = expiresIn(c.ExpiresIn)
	if c.CodeChallenge != "" {
		t.CodeChallenge = c.CodeChallenge
		t.CodeChallengeMethod = string(c.CodeChallengeMethod)
	}
	t.Extension.Set(GrantIDKey, c.GrantID)
	return &TokenInfo{Token: t}, nil
}

// GetByAccess implements [oauth2.TokenStore]. An unknown or revoked access
// token returns [oerrors.ErrInvalidAccessToken], an expired one (by the
// store's clock) [oerrors.ErrExpiredAccessToken]. The info carries no
// refresh token: the store keeps only its digest.
func (ts *TokenStore) GetByAccess(ctx context.Context, access string) (oauth2.TokenInfo, error) {
	if access == "" {
		return nil, oerrors.ErrInvalidAccessToken
	}
	t, err := ts.s.GetTokenByAccess(ctx, access)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrRevoked):
		return nil, oerrors.ErrInvalidAccessToken
	case errors.Is(err, storage.ErrExpired):
		return nil, oerrors.ErrExpiredAccessToken
	case err != nil:
		return nil, err
	}
	ti := tokenInfo(t)
	ti.Access = access
	return ti, nil
}

// GetByRefresh implements [oauth2.TokenStore]. An unknown or revoked
// refresh token returns [oerrors.ErrInvalidRefreshToken], an expired one (by
// the store's clock) [oerrors.ErrExpiredRefreshToken]; the server answers
// both with invalid_grant. The info carries no access token: the store keeps
// only its digest.
//
// A revoked refresh token presented again is a reuse (RFC 9700 4.14.2): it
// was rotated before, so it was stolen, or its grant was revoked. GetByRefresh
// reports it to the store through [storage.TokenStore.RotateToken], which
// revokes every token of the grant (unless the store's reuse interval says
// otherwise).
func (ts *TokenStore) GetByRefresh(ctx context.Context, refresh string) (oauth2.TokenInfo, error) {
	if refresh == "" {
		return nil, oerrors.ErrInvalidRefreshToken
	}
	t, err := ts.s.GetTokenByRefresh(ctx, refresh)
	switch {
	case errors.Is(err, storage.ErrRevoked):
		return nil, ts.reused(ctx, refresh)
	case errors.Is(err, storage.ErrNotFound):
		return nil, oerrors.ErrInvalidRefreshToken
	case errors.Is(err, storage.ErrExpired):
		return nil, oerrors.ErrExpiredRefreshToken
	case err != nil:
		return nil, err
	}
	ti := tokenInfo(t)
	ti.Refresh = refresh
	ti.RefreshCreateAt = t.IssuedAt
	ti.RefreshExpiresIn = expiresIn(t.RefreshTokenExpiresIn)
	ti.readByRefresh = refresh
	ti.grantID = t.GrantID
	return ti, nil
}

// reused reports the reuse of refresh, a revoked refresh token, to the
// store: RotateToken of a revoked pair revokes every token of its grant and
// fails. The next pair it is handed is well-formed but never stored, since
// a revoked pair stays revoked; its access token is random and known to no
// one. It names a client of its own: the contract judges reuse on the
// refresh token alone, whatever next pair it comes with (the conformance
// case Grant/ReuseWhateverTheNextPair checks every backend for it). It returns
// [oerrors.ErrInvalidRefreshToken], or the store's error if the store
// failed.
func (ts *TokenStore) reused(ctx context.Context, refresh string) error {
	probe := &models.Token{
		AccessToken: randomToken(),
		ClientID:    reuseProbeClient,
		IssuedAt:    time.Now(),
		ExpiresIn:   time.Minute,
		TokenType:   models.DefaultTokenType,
	}
	err := ts.s.RotateToken(ctx, refresh, probe)
	switch {
	case err == nil:
		// Unreachable with a store that keeps its contract: the pair was
		// revoked. Do not leave the probe live.
		if rerr := ts.s.RevokeToken(ctx, probe.AccessToken); rerr != nil {
			return fmt.Errorf("gooauth2: revoking a pair stored for a revoked refresh token: %w", rerr)
		}
		return oerrors.ErrInvalidRefreshToken
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrNotFound),
		errors.Is(err, storage.ErrExpired), errors.Is(err, storage.ErrInvalid):
		return oerrors.ErrInvalidRefreshToken
	}
	return fmt.Errorf("gooauth2: reporting the reuse of a revoked refresh token: %w", err)
}

// randomToken returns 32 random bytes, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenInfo(t *models.Token) *TokenInfo {
	o := omodels.NewToken()
	o.ClientID = t.ClientID
	o.UserID = t.UserID
	o.Scope = t.Scope
	o.AccessCreateAt = t.IssuedAt
	o.AccessExpiresIn = expiresIn(t.ExpiresIn)
	return &TokenInfo{Token: o}
}
