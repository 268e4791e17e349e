package grantflows_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
	"gorm.io/gorm"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// A backend makes a fresh, empty store whose clock is clock.
var backends = []struct {
	name string
	open func(t *testing.T, clock func() time.Time) storage.Storage
}{
	{"memory", func(t *testing.T, clock func() time.Time) storage.Storage {
		return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()))
	}},
	{"sqlite", func(t *testing.T, clock func() time.Time) storage.Storage {
		return gormStore(t, testenv.SQLite(t), clock)
	}},
	{"ferretdb", func(t *testing.T, clock func() time.Time) storage.Storage {
		s, err := mongostore.New(context.Background(), mongoenv.FerretDB(t), mongostore.WithClock(clock), mongostore.WithHasher(secret.ForTests()))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T, clock func() time.Time) storage.Storage {
		return gormStore(t, testenv.Postgres(t), clock)
	}},
	{"mysql", func(t *testing.T, clock func() time.Time) storage.Storage {
		return gormStore(t, testenv.MySQL(t), clock)
	}},
}

func gormStore(t *testing.T, db *gorm.DB, clock func() time.Time) storage.Storage {
	t.Helper()
	s, err := gormstore.New(context.Background(), db, gormstore.WithClock(clock), gormstore.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The grant flows, through the adapter and go-oauth2's manager, on every
// backend.
var grantFlows = []struct {
	name string
	run  func(t *testing.T, s storage.Storage)
}{
	{"TokenStoreCarriesCodeGrant", flowTokenStoreCarriesCodeGrant},
	{"ManagerTokensInCodeGrant", flowManagerTokensInCodeGrant},
	{"ManagerExtractExtensionKeepsGrant", flowManagerExtractExtensionKeepsGrant},
	{"ManagerStolenRefreshTokenRevokesGrant", flowManagerStolenRefreshTokenRevokesGrant},
	{"ManagerRevokedRefreshTokenReuse", flowManagerRevokedRefreshTokenReuse},
	{"ManagerConcurrentRefresh", flowManagerConcurrentRefresh},
	{"ManagerKeptRefreshTokenSameGrant", flowManagerKeptRefreshTokenSameGrant},
	{"ManagerZeroRefreshExpirationAfterRefresh", flowManagerZeroRefreshExpirationAfterRefresh},
	{"CreateRefreshedPastExpiry", flowCreateRefreshedPastExpiry},
}

func TestGrantFlows(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, f := range grantFlows {
				t.Run(f.name, func(t *testing.T) {
					c := &clock{}
					f.run(t, b.open(t, c.now))
				})
			}
		})
	}
}

// grantOf returns the GrantID the store gave the token of access.
func grantOf(t *testing.T, s storage.Storage, access string) string {
	t.Helper()
	tok, err := s.GetTokenByAccess(context.Background(), access)
	if err != nil {
		t.Fatalf("GetTokenByAccess: %v", err)
	}
	if tok.GrantID == "" {
		t.Fatal("token without GrantID")
	}
	return tok.GrantID
}

// hasGrantKey reports whether info's extension carries the GrantID key.
func hasGrantKey(info oauth2.TokenInfo) bool {
	eti, ok := info.(oauth2.ExtendableTokenInfo)
	if !ok || eti.GetExtension() == nil {
		return false
	}
	_, ok = eti.GetExtension()[gooauth2.GrantIDKey]
	return ok
}

// The code's GrantID reaches the token through the extension GetByCode
// sets, and Create removes it from the info it stores.
func flowTokenStoreCarriesCodeGrant(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	ts := gooauth2.NewTokenStore(s)
	if err := ts.Create(ctx, codeInfo("code-g")); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetAuthorizationCode(ctx, "code-g")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := ts.GetByCode(ctx, "code-g")
	if err != nil {
		t.Fatal(err)
	}
	ext := ci.(oauth2.ExtendableTokenInfo).GetExtension()
	if got := ext.Get(gooauth2.GrantIDKey); got != c.GrantID {
		t.Fatalf("GetByCode extension %q = %q, want the code's GrantID %q", gooauth2.GrantIDKey, got, c.GrantID)
	}
	// What the manager does: a new info with the code info's extension.
	in := pairInfo("access-g", "refresh-g")
	in.SetExtension(ext)
	ext.Set("other", "kept")
	if err := ts.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	if g := grantOf(t, s, "access-g"); g != c.GrantID {
		t.Fatalf("token GrantID %q, want the code's %q", g, c.GrantID)
	}
	if hasGrantKey(in) || in.GetExtension().Get("other") != "kept" {
		t.Fatalf("extension after Create: %v; want the GrantID key gone and the rest kept", in.GetExtension())
	}
	// The manager's RemoveByCode after GetByCode must not consume the code
	// again: the store would take that for a replay and revoke the grant.
	if err := ts.RemoveByCode(ctx, "code-g"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.GetByAccess(ctx, "access-g"); err != nil {
		t.Fatalf("the token after RemoveByCode of its (used) code: %v", err)
	}
	// A real replay revokes it.
	if _, err := ts.GetByCode(ctx, "code-g"); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("replayed code: %v", err)
	}
	if _, err := ts.GetByAccess(ctx, "access-g"); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("the token after its code was replayed: %v, want ErrInvalidAccessToken", err)
	}
	if _, err := ts.GetByRefresh(ctx, "refresh-g"); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("the refresh token after its code was replayed: %v, want ErrInvalidRefreshToken", err)
	}

	// A token without the key gets a grant of its own.
	if err := ts.Create(ctx, pairInfo("access-h", "")); err != nil {
		t.Fatal(err)
	}
	if g := grantOf(t, s, "access-h"); g == c.GrantID {
		t.Fatal("a token created without the key joined another grant")
	}
}

// Through go-oauth2's manager: the token issued from a code, and the pair
// refreshed from it, are in the code's grant; the token info the manager
// returns (what the server turns into the token response) has no GrantID.
func flowManagerTokensInCodeGrant(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	code, err := m.GenerateAuthToken(ctx, oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", UserID: "user-1", RedirectURI: "https://app.example/cb", Scope: "read",
		CodeChallenge: challenge, CodeChallengeMethod: oauth2.CodeChallengeS256,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.GetAuthorizationCode(ctx, code.GetCode())
	if err != nil {
		t.Fatal(err)
	}
	ti, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", ClientSecret: "s3cret", RedirectURI: "https://app.example/cb", Code: code.GetCode(), CodeVerifier: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := grantOf(t, s, ti.GetAccess()); g != c.GrantID {
		t.Fatalf("token GrantID %q, want the code's %q", g, c.GrantID)
	}
	if hasGrantKey(ti) {
		t.Fatal("the token info the manager returns carries the GrantID")
	}
	srv := server.NewServer(server.NewConfig(), m)
	// An ExtensionFieldsHandler that copies the whole extension into the
	// token response.
	srv.SetExtensionFieldsHandler(func(ti oauth2.TokenInfo) map[string]any {
		out := map[string]any{}
		if eti, ok := ti.(oauth2.ExtendableTokenInfo); ok {
			for k, v := range eti.GetExtension() {
				out[k] = v
			}
		}
		return out
	})
	if _, ok := srv.GetTokenData(ti)[gooauth2.GrantIDKey]; ok {
		t.Fatal("the token response carries the GrantID")
	}
	nti, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()})
	if err != nil {
		t.Fatal(err)
	}
	if g := grantOf(t, s, nti.GetAccess()); g != c.GrantID {
		t.Fatalf("refreshed token GrantID %q, want the code's %q", g, c.GrantID)
	}
	if _, ok := srv.GetTokenData(nti)[gooauth2.GrantIDKey]; ok {
		t.Fatal("the refresh response carries the GrantID")
	}
	// Replaying the code revokes the refreshed pair too.
	_, err = m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", ClientSecret: "s3cret", RedirectURI: "https://app.example/cb", Code: code.GetCode(), CodeVerifier: verifier,
	})
	if err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("replayed code: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, nti.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("refreshed access token after the code was replayed: %v", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: nti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("refreshed refresh token after the code was replayed: %v", err)
	}
}

// An ExtractExtensionHandler that adds to the extension keeps the token in
// the code's grant.
func flowManagerExtractExtensionKeepsGrant(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	m.SetExtractExtensionHandler(func(_ *oauth2.TokenGenerateRequest, ti oauth2.ExtendableTokenInfo) {
		if ti.GetExtension() == nil {
			ti.SetExtension(url.Values{})
		}
		ti.GetExtension().Set("tenant", "t1")
	})
	code, err := m.GenerateAuthToken(ctx, oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", UserID: "user-1", RedirectURI: "https://app.example/cb",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.GetAuthorizationCode(ctx, code.GetCode())
	if err != nil {
		t.Fatal(err)
	}
	ti, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", ClientSecret: "s3cret", RedirectURI: "https://app.example/cb", Code: code.GetCode(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := grantOf(t, s, ti.GetAccess()); g != c.GrantID {
		t.Fatalf("token GrantID %q, want the code's %q", g, c.GrantID)
	}
	ext := ti.(oauth2.ExtendableTokenInfo).GetExtension()
	if ext.Get("tenant") != "t1" || hasGrantKey(ti) {
		t.Fatalf("extension of the issued token: %v", ext)
	}
}

// A stolen refresh token replayed after the legitimate client rotated it
// is refused, and the legitimate client's new pair stops working.
func flowManagerStolenRefreshTokenRevokesGrant(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	ti := issue(t, m)
	other := issue(t, m) // another grant of the same client and user
	legit, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("stolen refresh token: %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := m.LoadAccessToken(ctx, legit.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("legitimate access token after the reuse: %v, want ErrInvalidAccessToken", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: legit.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("legitimate refresh after the reuse: %v, want ErrInvalidRefreshToken", err)
	}
	// Another grant is untouched.
	if _, err := m.LoadAccessToken(ctx, other.GetAccess()); err != nil {
		t.Fatalf("another grant's access token: %v", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: other.GetRefresh()}); err != nil {
		t.Fatalf("another grant's refresh: %v", err)
	}
}

// A refresh token revoked by RemoveByRefresh (RFC 7009 revocation) and
// presented again revokes the rest of its grant.
func flowManagerRevokedRefreshTokenReuse(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	ti := issue(t, m)
	g := grantOf(t, s, ti.GetAccess())
	// A second token of the grant, as a server may issue.
	if err := s.CreateToken(ctx, &models.Token{
		AccessToken: "sibling", ClientID: "client-1", GrantID: g, IssuedAt: time.Now(), ExpiresIn: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveRefreshToken(ctx, ti.GetRefresh()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LoadAccessToken(ctx, "sibling"); err != nil {
		t.Fatalf("revoking one pair revoked its sibling: %v", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("revoked refresh token: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, "sibling"); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("the grant's other token after a revoked refresh token was presented: %v, want ErrInvalidAccessToken", err)
	}
}

// With the store's reuse interval, a replay right after a rotation is
// refused without revoking the grant; after the interval it revokes it.
func TestManagerReuseInterval(t *testing.T) {
	ctx := context.Background()
	c := &clock{}
	s := memstore.New(memstore.WithClock(c.now), memstore.WithHasher(secret.ForTests()), memstore.WithReuseInterval(time.Minute))
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	ti := issue(t, m)
	legit, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("replay within the reuse interval: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, legit.GetAccess()); err != nil {
		t.Fatalf("the new access token after a replay within the reuse interval: %v", err)
	}
	c.advance(time.Minute + time.Second)
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("replay after the reuse interval: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, legit.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("the new access token after a replay past the reuse interval: %v, want ErrInvalidAccessToken", err)
	}
}

// rotateGate holds RotateToken calls back until n have arrived, so that
// concurrent refreshes reach the store's rotation together.
type rotateGate struct {
	storage.Storage
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

// arm makes the next n RotateToken calls wait for each other.
func (g *rotateGate) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting, g.release = n, make(chan struct{})
}

func (g *rotateGate) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	g.mu.Lock()
	if g.waiting > 0 {
		g.waiting--
		release := g.release
		if g.waiting == 0 {
			close(release)
		}
		g.mu.Unlock()
		select {
		case <-release:
		case <-time.After(30 * time.Second): // a caller went missing: do not hang
		}
	} else {
		g.mu.Unlock()
	}
	return g.Storage.RotateToken(ctx, refresh, next)
}

// Of concurrent refreshes with one refresh token exactly one succeeds; the
// others are reuses, so the grant ends up revoked, the winner's pair
// included.
func flowManagerConcurrentRefresh(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	const n = 16
	g := &rotateGate{Storage: s}
	m := newManager(t, g, manage.DefaultRefreshTokenCfg)
	ti := issue(t, m)
	g.arm(n)

	var wg sync.WaitGroup
	results := make([]oauth2.TokenInfo, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()})
		})
	}
	close(start)
	wg.Wait()
	var winner oauth2.TokenInfo
	for i, err := range errs {
		switch err {
		case nil:
			if winner != nil {
				t.Fatal("two concurrent refreshes with one refresh token succeeded")
			}
			winner = results[i]
		case oerrors.ErrInvalidRefreshToken:
		default:
			t.Fatalf("concurrent refresh: %v", err)
		}
	}
	if winner == nil {
		t.Fatal("no concurrent refresh succeeded")
	}
	if _, err := m.LoadAccessToken(ctx, winner.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("the winner's access token: %v, want ErrInvalidAccessToken (the losers were reuses)", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: winner.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("the winner's refresh token: %v, want ErrInvalidRefreshToken", err)
	}
}

// Without rotation the new access token is stored alone, in the grant of
// the refresh token; revoking the grant ends them all.
func flowManagerKeptRefreshTokenSameGrant(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	m := newManager(t, s, &manage.RefreshingConfig{IsGenerateRefresh: false, IsRemoveAccess: true, IsRemoveRefreshing: true})
	ti := issue(t, m)
	g := grantOf(t, s, ti.GetAccess())
	nti, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()})
	if err != nil {
		t.Fatal(err)
	}
	if got := grantOf(t, s, nti.GetAccess()); got != g {
		t.Fatalf("access token refreshed without rotation: GrantID %q, want the grant's %q", got, g)
	}
	if err := s.RevokeGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LoadAccessToken(ctx, nti.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("refreshed access token after RevokeGrant: %v", err)
	}
}

// A port of go-oauth2 v4.5.4's manage_test.go testZeroRefreshExpirationManager,
// carried on through a refresh: with RefreshTokenExp 0 ("never") the
// refresh token reads back with an expires-in of 0, before and after a
// refresh with go-oauth2's default refreshing configuration.
func flowManagerZeroRefreshExpirationAfterRefresh(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	if err := s.CreateClient(ctx, &models.Client{ClientID: "1", ClientSecret: "11", RedirectURIs: []string{"http://localhost/oauth2"}}); err != nil {
		t.Fatal(err)
	}
	m := manage.NewDefaultManager()
	m.MapTokenStorage(gooauth2.NewTokenStore(s))
	m.MapClientStorage(gooauth2.NewClientStore(s))
	m.SetValidateURIHandler(gooauth2.ValidateURI)
	m.SetAuthorizeCodeTokenCfg(&manage.Config{RefreshTokenExp: 0, IsGenerateRefresh: true})
	tgr := &oauth2.TokenGenerateRequest{ClientID: "1", UserID: "123456", RedirectURI: "http://localhost/oauth2", Scope: "all"}

	cti, err := m.GenerateAuthToken(ctx, oauth2.Code, tgr)
	if err != nil {
		t.Fatal(err)
	}
	ati, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: "1", ClientSecret: "11", RedirectURI: tgr.RedirectURI, AccessTokenExp: time.Hour, Code: cti.GetCode(),
	})
	if err != nil {
		t.Fatal(err)
	}
	refreshToken := ati.GetRefresh()
	ri, err := m.LoadRefreshToken(ctx, refreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if ri.GetRefresh() != refreshToken || ri.GetRefreshExpiresIn() != 0 {
		t.Fatalf("LoadRefreshToken: refresh expires-in %v, want 0", ri.GetRefreshExpiresIn())
	}

	// Refresh with go-oauth2's DefaultRefreshTokenCfg: rotate,
	// RefreshTokenExp 0, refresh create time not reset (so it is the old
	// pair's, and the new access token's create time is later).
	rti, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: refreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if rti.GetRefresh() == "" || rti.GetRefresh() == refreshToken {
		t.Fatal("the refresh did not rotate")
	}
	ri, err = m.LoadRefreshToken(ctx, rti.GetRefresh())
	if err != nil {
		t.Fatal(err)
	}
	if ri.GetRefreshExpiresIn() != 0 {
		t.Fatalf("LoadRefreshToken after a refresh: refresh expires-in %v, want 0 (never)", ri.GetRefreshExpiresIn())
	}
	raw, err := s.GetTokenByRefresh(ctx, rti.GetRefresh())
	if err != nil {
		t.Fatal(err)
	}
	if raw.RefreshTokenExpiresIn != gooauth2.NoExpiry {
		t.Fatalf("stored refresh lifetime %v, want NoExpiry", raw.RefreshTokenExpiresIn)
	}
	if _, err := m.LoadAccessToken(ctx, rti.GetAccess()); err != nil {
		t.Fatal(err)
	}
}

// A refreshed info whose refresh token has (nearly) run out is refused
// before anything is stored.
func flowCreateRefreshedPastExpiry(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	ts := gooauth2.NewTokenStore(s)
	if err := ts.Create(ctx, pairInfo("a-x", "r-x")); err != nil {
		t.Fatal(err)
	}
	info, err := ts.GetByRefresh(ctx, "r-x")
	if err != nil {
		t.Fatal(err)
	}
	ti := info.(*gooauth2.TokenInfo)
	ti.SetAccess("a-y")
	ti.SetRefresh("r-y")
	ti.SetAccessCreateAt(ti.GetRefreshCreateAt().Add(ti.GetRefreshExpiresIn()))
	if err := ts.Create(ctx, ti); err != oerrors.ErrExpiredRefreshToken {
		t.Fatalf("Create: %v, want ErrExpiredRefreshToken", err)
	}
	if _, err := s.GetTokenByAccess(ctx, "a-y"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the refused pair was stored: %v", err)
	}
	if _, err := ts.GetByRefresh(ctx, "r-x"); err != nil {
		t.Fatalf("the old pair after a refused refresh: %v", err)
	}
}
