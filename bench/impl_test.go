package bench

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oamodels "github.com/go-oauth2/oauth2/v4/models"
	oastore "github.com/go-oauth2/oauth2/v4/store"
	"github.com/ory/fosite"
	fstorage "github.com/ory/fosite/storage"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// errMiss is what every adapter returns for a credential that is not stored,
// whatever the implementation's own way of saying so.
var errMiss = errors.New("bench: not found")

// tokens is one implementation of the token and code operations, adapted so
// that every benchmark drives all of them the same way. Each method does what
// a server does with that implementation for the operation, and returns an
// error if the result is not the expected one.
type tokens interface {
	create(ctx context.Context, t *tokenIn) error
	// getByAccess and getByRefresh return the client ID of the token, or
	// errMiss.
	getByAccess(ctx context.Context, access string) (string, error)
	getByRefresh(ctx context.Context, refresh string) (string, error)
	// revoke revokes the pair t belongs to, given its access token.
	revoke(ctx context.Context, t *tokenIn) error
	// exchange stores the code and then redeems it once.
	exchange(ctx context.Context, c *codeIn) error
}

// ---- our stores: any storage.Storage ----

type ours struct{ s storage.Storage }

func newToken(t *tokenIn) *models.Token {
	return &models.Token{
		AccessToken:           t.access,
		RefreshToken:          t.refresh,
		Scope:                 scope,
		IssuedAt:              issued,
		ExpiresIn:             accessTTL,
		RefreshTokenExpiresIn: refreshTTL,
		ClientID:              t.clientID,
		UserID:                t.userID,
	}
}

func (o ours) create(ctx context.Context, t *tokenIn) error {
	return o.s.CreateToken(ctx, newToken(t))
}

func (o ours) getByAccess(ctx context.Context, access string) (string, error) {
	t, err := o.s.GetTokenByAccess(ctx, access)
	if errors.Is(err, storage.ErrNotFound) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	return t.ClientID, nil
}

func (o ours) getByRefresh(ctx context.Context, refresh string) (string, error) {
	t, err := o.s.GetTokenByRefresh(ctx, refresh)
	if errors.Is(err, storage.ErrNotFound) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	return t.ClientID, nil
}

func (o ours) revoke(ctx context.Context, t *tokenIn) error {
	return o.s.RevokeToken(ctx, t.access)
}

func (o ours) exchange(ctx context.Context, c *codeIn) error {
	err := o.s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code:                c.code,
		ClientID:            c.clientID,
		RedirectURI:         redirect,
		ResponseType:        "code",
		Scope:               scope,
		AuthTime:            issued,
		ExpiresIn:           codeTTL,
		CodeChallenge:       challenge,
		CodeChallengeMethod: models.CodeChallengeS256,
		UserID:              c.userID,
	})
	if err != nil {
		return err
	}
	got, err := o.s.ConsumeAuthorizationCode(ctx, c.code)
	if err != nil {
		return err
	}
	if got.ClientID != c.clientID {
		return fmt.Errorf("consumed code of client %q, want %q", got.ClientID, c.clientID)
	}
	return nil
}

// ---- go-oauth2/oauth2 v4: store.NewMemoryTokenStore (buntdb) ----

// gooauth2 drives go-oauth2's memory token store as its manager does: one
// TokenInfo per token pair, codes as TokenInfos with a code; lookups return
// nil, nil when not found; revoking removes both credentials; a code
// exchange is GetByCode then RemoveByCode.
type gooauth2 struct{ s oauth2.TokenStore }

func newGooauth2() gooauth2 {
	s, err := oastore.NewMemoryTokenStore()
	if err != nil {
		panic(err) // buntdb in memory cannot fail to open
	}
	return gooauth2{s}
}

func (g gooauth2) create(ctx context.Context, t *tokenIn) error {
	return g.s.Create(ctx, &oamodels.Token{
		ClientID:         t.clientID,
		UserID:           t.userID,
		Scope:            scope,
		Access:           t.access,
		AccessCreateAt:   issued,
		AccessExpiresIn:  accessTTL,
		Refresh:          t.refresh,
		RefreshCreateAt:  issued,
		RefreshExpiresIn: refreshTTL,
	})
}

func gooauth2Result(ti oauth2.TokenInfo, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if ti == nil {
		return "", errMiss
	}
	return ti.GetClientID(), nil
}

func (g gooauth2) getByAccess(ctx context.Context, access string) (string, error) {
	return gooauth2Result(g.s.GetByAccess(ctx, access))
}

func (g gooauth2) getByRefresh(ctx context.Context, refresh string) (string, error) {
	return gooauth2Result(g.s.GetByRefresh(ctx, refresh))
}

func (g gooauth2) revoke(ctx context.Context, t *tokenIn) error {
	if err := g.s.RemoveByAccess(ctx, t.access); err != nil {
		return err
	}
	return g.s.RemoveByRefresh(ctx, t.refresh)
}

func (g gooauth2) exchange(ctx context.Context, c *codeIn) error {
	err := g.s.Create(ctx, &oamodels.Token{
		ClientID:            c.clientID,
		UserID:              c.userID,
		RedirectURI:         redirect,
		Scope:               scope,
		Code:                c.code,
		CodeCreateAt:        issued,
		CodeExpiresIn:       codeTTL,
		CodeChallenge:       challenge,
		CodeChallengeMethod: "S256",
	})
	if err != nil {
		return err
	}
	ti, err := g.s.GetByCode(ctx, c.code)
	if err != nil {
		return err
	}
	if ti == nil || ti.GetClientID() != c.clientID {
		return fmt.Errorf("code lookup returned %v", ti)
	}
	return g.s.RemoveByCode(ctx, c.code)
}

// ---- ory/fosite v0.49.0: storage.MemoryStore ----

// fositeMem drives fosite's MemoryStore as fosite's handlers do. Tokens are
// keyed by the credential itself (fosite's handlers would pass an HMAC
// signature they computed, which is not counted here). Revoking looks the
// token up by its signature, then revokes its request's refresh and access
// tokens, as fosite's revocation handler does. A code exchange is create,
// get, invalidate (fosite keeps the invalidated code, as we do).
type fositeMem struct {
	s       *fstorage.MemoryStore
	clients map[string]fosite.Client
}

func newFosite() fositeMem {
	f := fositeMem{s: fstorage.NewMemoryStore(), clients: map[string]fosite.Client{}}
	for _, id := range clientIDs {
		f.clients[id] = &fosite.DefaultClient{ID: id, RedirectURIs: []string{redirect}}
	}
	return f
}

func (f fositeMem) client(id string) fosite.Client {
	if c, ok := f.clients[id]; ok {
		return c
	}
	return &fosite.DefaultClient{ID: id}
}

func (f fositeMem) request(id uint64, clientID, userID string, expires map[fosite.TokenType]time.Time) *fosite.Request {
	return &fosite.Request{
		ID:           strconv.FormatUint(id, 16),
		RequestedAt:  issued,
		Client:       f.client(clientID),
		GrantedScope: fosite.Arguments(scopeList),
		Session:      &fosite.DefaultSession{Subject: userID, ExpiresAt: expires},
	}
}

func (f fositeMem) create(ctx context.Context, t *tokenIn) error {
	req := f.request(t.id, t.clientID, t.userID, map[fosite.TokenType]time.Time{
		fosite.AccessToken:  issued.Add(accessTTL),
		fosite.RefreshToken: issued.Add(refreshTTL),
	})
	if err := f.s.CreateAccessTokenSession(ctx, t.access, req); err != nil {
		return err
	}
	return f.s.CreateRefreshTokenSession(ctx, t.refresh, t.access, req)
}

func fositeResult(r fosite.Requester, err error) (string, error) {
	if errors.Is(err, fosite.ErrNotFound) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	return r.GetClient().GetID(), nil
}

func (f fositeMem) getByAccess(ctx context.Context, access string) (string, error) {
	return fositeResult(f.s.GetAccessTokenSession(ctx, access, nil))
}

func (f fositeMem) getByRefresh(ctx context.Context, refresh string) (string, error) {
	return fositeResult(f.s.GetRefreshTokenSession(ctx, refresh, nil))
}

func (f fositeMem) revoke(ctx context.Context, t *tokenIn) error {
	r, err := f.s.GetAccessTokenSession(ctx, t.access, nil)
	if err != nil {
		return err
	}
	if err := f.s.RevokeRefreshToken(ctx, r.GetID()); err != nil {
		return err
	}
	return f.s.RevokeAccessToken(ctx, r.GetID())
}

func (f fositeMem) exchange(ctx context.Context, c *codeIn) error {
	req := f.request(c.id, c.clientID, c.userID, map[fosite.TokenType]time.Time{
		fosite.AuthorizeCode: issued.Add(codeTTL),
	})
	if err := f.s.CreateAuthorizeCodeSession(ctx, c.code, req); err != nil {
		return err
	}
	r, err := f.s.GetAuthorizeCodeSession(ctx, c.code, nil)
	if err != nil {
		return err
	}
	if r.GetClient().GetID() != c.clientID {
		return fmt.Errorf("code of client %q, want %q", r.GetClient().GetID(), c.clientID)
	}
	return f.s.InvalidateAuthorizeCodeSession(ctx, c.code)
}

// plainEqual is how go-oauth2's manager compares a client secret it keeps
// in plaintext (made constant-time here).
func plainEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
