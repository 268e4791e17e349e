package gooauth2

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
func NewTokenStore(s storage.Storage) oauth2.TokenStore {
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
// [models.AuthorizationCode], any other as a [models.Token]. A token issued
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
			ResponseType: string(models.ResponseTypeCode),
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

// ClientStore is the [oauth2.ClientStore] [NewClientStore] returns.
type ClientStore struct {
	s storage.Storage
}

var _ oauth2.ClientStore = (*ClientStore)(nil)

// NewClientStore returns a go-oauth2 client store reading clients from s.
// Pass it to the manager's MapClientStorage. Clients are created with
// [storage.ClientStore.CreateClient] on s.
func NewClientStore(s storage.Storage) oauth2.ClientStore {
	return &ClientStore{s: s}
}

// GetByID implements [oauth2.ClientStore]. It returns a [*Client]; an
// unknown client is [oerrors.ErrInvalidClient].
func (cs *ClientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := cs.s.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	return &Client{ctx: ctx, s: cs.s, c: c}, nil
}

// Client is the [oauth2.ClientInfo] of a stored [models.Client]. It
// implements [oauth2.ClientPasswordVerifier], so go-oauth2's manager checks
// client secrets with [Client.VerifyPassword] (against the stored hash)
// instead of comparing them with [Client.GetSecret], which is always empty.
type Client struct {
	// ctx is the context of the GetByID call that read the client: go-oauth2's
	// VerifyPassword has none, and is called within the same request.
	ctx context.Context
	s   storage.Storage
	c   *models.Client
}

var (
	_ oauth2.ClientInfo             = (*Client)(nil)
	_ oauth2.ClientPasswordVerifier = (*Client)(nil)
)

// Model returns the stored client (without its secret).
func (c *Client) Model() *models.Client { return c.c }

// GetID implements [oauth2.ClientInfo].
func (c *Client) GetID() string { return c.c.ClientID }

// GetSecret implements [oauth2.ClientInfo]. It is always "": the store keeps
// only a hash of the secret; see [Client.VerifyPassword].
func (c *Client) GetSecret() string { return "" }

// GetDomain implements [oauth2.ClientInfo]. It returns the client's
// registered redirect URIs separated by single spaces (a URI cannot contain
// one): the first argument [ValidateURI] receives. With one registered URI
// it is that URI, which go-oauth2's server redirects to when an
// authorization request names none.
func (c *Client) GetDomain() string { return strings.Join(c.c.RedirectURIs, " ") }

// IsPublic implements [oauth2.ClientInfo]: the client has no secret.
func (c *Client) IsPublic() bool { return c.c.IsPublic() }

// GetUserID implements [oauth2.ClientInfo].
func (c *Client) GetUserID() string { return c.c.UserID }

// VerifyPassword implements [oauth2.ClientPasswordVerifier]. A public
// client passes with an empty secret only; a confidential client passes
// when [storage.ClientStore.AuthenticateClient] accepts the secret, that is
// when it matches the stored hash. It is never compared in plaintext.
func (c *Client) VerifyPassword(secret string) bool {
	if c.c.IsPublic() {
		return secret == ""
	}
	if secret == "" {
		return false
	}
	_, err := c.s.AuthenticateClient(c.ctx, c.c.ClientID, secret)
	return err == nil
}

// ValidateURI is a go-oauth2 ValidateURIHandler (pass it to the manager's
// SetValidateURIHandler) for clients from [NewClientStore]: redirectURI must
// be exactly one of the registered redirect URIs that baseURI, the client's
// [Client.GetDomain], lists. go-oauth2's default handler only compares host
// suffixes.
func ValidateURI(baseURI, redirectURI string) error {
	c := models.Client{RedirectURIs: strings.Split(baseURI, " ")}
	if !c.CheckRedirectURI(redirectURI) {
		return oerrors.ErrInvalidRedirectURI
	}
	return nil
}
