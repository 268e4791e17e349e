package gooauth2_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	omodels "github.com/go-oauth2/oauth2/v4/models"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// clock is wall time plus an offset the test moves: go-oauth2 stamps
// create times with time.Now, so the store's clock must start there.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newStore(t *testing.T) (*memstore.Store, *clock) {
	t.Helper()
	c := &clock{}
	return memstore.New(memstore.WithClock(c.now), memstore.WithHasher(secret.ForTests())), c
}

const verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
const challenge = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc" // base64url(SHA-256(verifier))

func codeInfo(code string) *omodels.Token {
	ti := omodels.NewToken()
	ti.SetClientID("client-1")
	ti.SetUserID("user-1")
	ti.SetRedirectURI("https://app.example/cb")
	ti.SetScope("read write")
	ti.SetCode(code)
	ti.SetCodeCreateAt(time.Now())
	ti.SetCodeExpiresIn(10 * time.Minute)
	ti.SetCodeChallenge(challenge)
	ti.SetCodeChallengeMethod(oauth2.CodeChallengeS256)
	return ti
}

func pairInfo(access, refresh string) *omodels.Token {
	ti := omodels.NewToken()
	ti.SetClientID("client-1")
	ti.SetUserID("user-1")
	ti.SetScope("read")
	now := time.Now()
	ti.SetAccess(access)
	ti.SetAccessCreateAt(now)
	ti.SetAccessExpiresIn(time.Hour)
	if refresh != "" {
		ti.SetRefresh(refresh)
		ti.SetRefreshCreateAt(now)
		ti.SetRefreshExpiresIn(24 * time.Hour)
	}
	return ti
}

func TestCodeRoundTripAndSingleUse(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	in := codeInfo("code-abc")
	if err := ts.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	// Stored as an AuthorizationCode with its fields (peek without consuming).
	c, err := s.GetAuthorizationCode(ctx, "code-abc")
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "client-1" || c.UserID != "user-1" || c.RedirectURI != "https://app.example/cb" || c.Scope != "read write" ||
		c.CodeChallenge != challenge || c.CodeChallengeMethod != models.CodeChallengeS256 || c.ExpiresIn != 10*time.Minute ||
		!c.AuthTime.Equal(backendkit.Truncate(in.CodeCreateAt)) {
		t.Fatalf("stored code = %+v", c)
	}

	got, err := ts.GetByCode(ctx, "code-abc")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCode() != "code-abc" || got.GetClientID() != "client-1" || got.GetUserID() != "user-1" ||
		got.GetRedirectURI() != "https://app.example/cb" || got.GetScope() != "read write" ||
		got.GetCodeChallenge() != challenge || got.GetCodeChallengeMethod() != oauth2.CodeChallengeS256 ||
		got.GetCodeExpiresIn() != 10*time.Minute || !got.GetCodeCreateAt().Equal(c.AuthTime) {
		t.Fatalf("GetByCode = %+v", got)
	}
	// GetByCode consumed it: a replay fails as go-oauth2 expects, and the
	// manager's RemoveByCode afterwards is fine.
	if _, err := ts.GetByCode(ctx, "code-abc"); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("replayed GetByCode: %v, want ErrInvalidAuthorizeCode", err)
	}
	if err := ts.RemoveByCode(ctx, "code-abc"); err != nil {
		t.Fatalf("RemoveByCode after GetByCode: %v", err)
	}
	// The used code is kept, marked, so a replay is still a replay.
	if _, err := s.GetAuthorizationCode(ctx, "code-abc"); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("after RemoveByCode: %v, want ErrAlreadyUsed", err)
	}
	if _, err := ts.GetByCode(ctx, "no-such-code"); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("unknown code: %v", err)
	}
	if err := ts.RemoveByCode(ctx, "no-such-code"); err != nil {
		t.Fatalf("RemoveByCode of an unknown code: %v", err)
	}
}

func TestRemoveByCodeMakesCodeUnusable(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	if err := ts.Create(ctx, codeInfo("code-x")); err != nil {
		t.Fatal(err)
	}
	if err := ts.RemoveByCode(ctx, "code-x"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.GetByCode(ctx, "code-x"); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("GetByCode after RemoveByCode: %v", err)
	}
}

func TestExpiredCode(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	if err := ts.Create(ctx, codeInfo("code-old")); err != nil {
		t.Fatal(err)
	}
	clk.advance(10*time.Minute + time.Second)
	if _, err := ts.GetByCode(ctx, "code-old"); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("expired code: %v", err)
	}
}

func TestConcurrentGetByCodeHasOneWinner(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	if err := ts.Create(ctx, codeInfo("code-race")); err != nil {
		t.Fatal(err)
	}
	var wins, losses atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := ts.GetByCode(ctx, "code-race")
			switch err {
			case nil:
				wins.Add(1)
			case oerrors.ErrInvalidAuthorizeCode:
				losses.Add(1)
			default:
				t.Errorf("GetByCode: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || losses.Load() != 31 {
		t.Fatalf("wins %d, losses %d; want 1 and 31", wins.Load(), losses.Load())
	}
}

func TestTokenPairRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	in := pairInfo("access-1", "refresh-1")
	if err := ts.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	a, err := ts.GetByAccess(ctx, "access-1")
	if err != nil {
		t.Fatal(err)
	}
	if a.GetAccess() != "access-1" || a.GetRefresh() != "" || a.GetClientID() != "client-1" || a.GetUserID() != "user-1" ||
		a.GetScope() != "read" || a.GetAccessExpiresIn() != time.Hour || !a.GetAccessCreateAt().Equal(backendkit.Truncate(in.AccessCreateAt)) {
		t.Fatalf("GetByAccess = %+v", a)
	}
	r, err := ts.GetByRefresh(ctx, "refresh-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.GetRefresh() != "refresh-1" || r.GetAccess() != "" || r.GetRefreshExpiresIn() != 24*time.Hour ||
		!r.GetRefreshCreateAt().Equal(backendkit.Truncate(in.RefreshCreateAt)) || r.GetClientID() != "client-1" {
		t.Fatalf("GetByRefresh = %+v", r)
	}
	if _, err := ts.GetByAccess(ctx, "nope"); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("unknown access: %v", err)
	}
	if _, err := ts.GetByRefresh(ctx, "nope"); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("unknown refresh: %v", err)
	}

	clk.advance(time.Hour + time.Second)
	if _, err := ts.GetByAccess(ctx, "access-1"); err != oerrors.ErrExpiredAccessToken {
		t.Fatalf("expired access: %v", err)
	}
	if _, err := ts.GetByRefresh(ctx, "refresh-1"); err != nil {
		t.Fatalf("refresh after the access token expired: %v", err)
	}
	clk.advance(24 * time.Hour)
	if _, err := ts.GetByRefresh(ctx, "refresh-1"); err != oerrors.ErrExpiredRefreshToken {
		t.Fatalf("expired refresh: %v", err)
	}
}

func TestRemoveRevokesPair(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	for _, p := range [][2]string{{"a1", "r1"}, {"a2", "r2"}} {
		if err := ts.Create(ctx, pairInfo(p[0], p[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.RemoveByAccess(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.GetByRefresh(ctx, "r1"); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("refresh of a removed access token: %v", err)
	}
	if err := ts.RemoveByRefresh(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.GetByAccess(ctx, "a2"); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("access of a removed refresh token: %v", err)
	}
	for _, v := range []string{"", "unknown", "a1"} {
		if err := ts.RemoveByAccess(ctx, v); err != nil {
			t.Fatalf("RemoveByAccess(%q): %v", v, err)
		}
		if err := ts.RemoveByRefresh(ctx, v); err != nil {
			t.Fatalf("RemoveByRefresh(%q): %v", v, err)
		}
	}
}

func TestZeroExpiresInMeansNoExpiry(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	in := pairInfo("forever-a", "forever-r")
	in.SetAccessExpiresIn(0)
	in.SetRefreshExpiresIn(0)
	if err := ts.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetTokenByAccess(ctx, "forever-a")
	if err != nil {
		t.Fatal(err)
	}
	if raw.ExpiresIn != gooauth2.NoExpiry || raw.RefreshTokenExpiresIn != gooauth2.NoExpiry {
		t.Fatalf("stored lifetimes %v, %v; want NoExpiry", raw.ExpiresIn, raw.RefreshTokenExpiresIn)
	}
	clk.advance(50 * 365 * 24 * time.Hour)
	a, err := ts.GetByAccess(ctx, "forever-a")
	if err != nil {
		t.Fatal(err)
	}
	if a.GetAccessExpiresIn() != 0 {
		t.Fatalf("read back expires-in %v, want 0 (never)", a.GetAccessExpiresIn())
	}
	r, err := ts.GetByRefresh(ctx, "forever-r")
	if err != nil || r.GetRefreshExpiresIn() != 0 {
		t.Fatalf("GetByRefresh: %v, expires-in %v", err, r)
	}
}

func TestClientStore(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, c := range []*models.Client{
		{ClientID: "conf", ClientSecret: "s3cret", RedirectURIs: []string{"https://a.example/cb", "https://a.example/cb2"}, UserID: "owner"},
		{ClientID: "pub", RedirectURIs: []string{"https://p.example/cb"}},
	} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cs := gooauth2.NewClientStore(s)
	if _, err := cs.GetByID(ctx, "nobody"); err != oerrors.ErrInvalidClient {
		t.Fatalf("unknown client: %v", err)
	}
	ci, err := cs.GetByID(ctx, "conf")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := ci.(oauth2.ClientPasswordVerifier)
	if !ok {
		t.Fatal("ClientInfo does not implement ClientPasswordVerifier")
	}
	if ci.GetID() != "conf" || ci.GetSecret() != "" || ci.IsPublic() || ci.GetUserID() != "owner" {
		t.Fatalf("client = id %q secret %q public %v user %q", ci.GetID(), ci.GetSecret(), ci.IsPublic(), ci.GetUserID())
	}
	if !v.VerifyPassword("s3cret") || v.VerifyPassword("wrong") || v.VerifyPassword("") {
		t.Fatal("VerifyPassword of the confidential client")
	}
	if err := gooauth2.ValidateURI(ci.GetDomain(), "https://a.example/cb2"); err != nil {
		t.Fatalf("registered URI refused: %v", err)
	}
	for _, u := range []string{"https://a.example/cb3", "https://a.example/cb?x=1", "https://evil.a.example/cb", "https://a.example/", ""} {
		if err := gooauth2.ValidateURI(ci.GetDomain(), u); err != oerrors.ErrInvalidGrant {
			t.Fatalf("ValidateURI(%q) = %v, want ErrInvalidGrant", u, err)
		}
	}
	pub, err := cs.GetByID(ctx, "pub")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.IsPublic() || pub.GetDomain() != "https://p.example/cb" {
		t.Fatalf("public client: public %v domain %q", pub.IsPublic(), pub.GetDomain())
	}
	pv := pub.(oauth2.ClientPasswordVerifier)
	if !pv.VerifyPassword("") || pv.VerifyPassword("anything") {
		t.Fatal("VerifyPassword of the public client")
	}
}

// newManager is a go-oauth2 manager on the adapter with one confidential
// client, configured by the test.
func newManager(t *testing.T, s storage.Storage, rcfg *manage.RefreshingConfig) *manage.Manager {
	t.Helper()
	if err := s.CreateClient(context.Background(), &models.Client{
		ClientID: "client-1", ClientSecret: "s3cret", RedirectURIs: []string{"https://app.example/cb"},
	}); err != nil {
		t.Fatal(err)
	}
	m := manage.NewDefaultManager()
	m.MapTokenStorage(gooauth2.NewTokenStore(s))
	m.MapClientStorage(gooauth2.NewClientStore(s))
	m.SetValidateURIHandler(gooauth2.ValidateURI)
	m.SetRefreshTokenCfg(rcfg)
	return m
}

func issue(t *testing.T, m *manage.Manager) oauth2.TokenInfo {
	t.Helper()
	ctx := context.Background()
	code, err := m.GenerateAuthToken(ctx, oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", UserID: "user-1", RedirectURI: "https://app.example/cb", Scope: "read",
		CodeChallenge: challenge, CodeChallengeMethod: oauth2.CodeChallengeS256,
	})
	if err != nil {
		t.Fatal(err)
	}
	ti, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", ClientSecret: "s3cret", RedirectURI: "https://app.example/cb", Code: code.GetCode(), CodeVerifier: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ti.GetRefresh() == "" {
		t.Fatal("no refresh token issued")
	}
	return ti
}

func TestManagerCodeFlow(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	m := newManager(t, s, manage.DefaultRefreshTokenCfg)
	code, err := m.GenerateAuthToken(ctx, oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: "client-1", UserID: "user-1", RedirectURI: "https://app.example/cb", Scope: "read",
		CodeChallenge: challenge, CodeChallengeMethod: oauth2.CodeChallengeS256,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := func(secret, verifier string) *oauth2.TokenGenerateRequest {
		return &oauth2.TokenGenerateRequest{ClientID: "client-1", ClientSecret: secret, RedirectURI: "https://app.example/cb", Code: code.GetCode(), CodeVerifier: verifier}
	}
	if _, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, req("wrong", verifier)); err != oerrors.ErrInvalidClient {
		t.Fatalf("wrong client secret: %v", err)
	}
	ti, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, req("s3cret", verifier))
	if err != nil {
		t.Fatal(err)
	}
	if ti.GetUserID() != "user-1" || ti.GetScope() != "read" {
		t.Fatalf("token: user %q scope %q", ti.GetUserID(), ti.GetScope())
	}
	if _, err := m.LoadAccessToken(ctx, ti.GetAccess()); err != nil {
		t.Fatalf("LoadAccessToken: %v", err)
	}
	// A replay is refused, and revokes the tokens issued from the code.
	if _, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, req("s3cret", verifier)); err != oerrors.ErrInvalidAuthorizeCode {
		t.Fatalf("replayed code: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, ti.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("LoadAccessToken after the code was replayed: %v, want ErrInvalidAccessToken", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: ti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("refresh after the code was replayed: %v, want ErrInvalidRefreshToken", err)
	}
}

func TestManagerRefreshRotating(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	m := newManager(t, s, manage.DefaultRefreshTokenCfg) // IsGenerateRefresh: true
	ti := issue(t, m)
	oldAccess, oldRefresh := ti.GetAccess(), ti.GetRefresh()

	nti, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: oldRefresh})
	if err != nil {
		t.Fatal(err)
	}
	if nti.GetRefresh() == "" || nti.GetRefresh() == oldRefresh || nti.GetAccess() == oldAccess {
		t.Fatal("refresh did not rotate")
	}
	if _, err := m.LoadAccessToken(ctx, nti.GetAccess()); err != nil {
		t.Fatalf("new access token: %v", err)
	}
	if _, err := m.LoadRefreshToken(ctx, nti.GetRefresh()); err != nil {
		t.Fatalf("new refresh token: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, oldAccess); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("old access token after refresh: %v", err)
	}
	// Reusing the old refresh token is refused and revokes the grant: the
	// new pair stops working too.
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: oldRefresh}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("old refresh token reused: %v", err)
	}
	if _, err := m.LoadAccessToken(ctx, nti.GetAccess()); err != oerrors.ErrInvalidAccessToken {
		t.Fatalf("new access token after the old refresh token was reused: %v, want ErrInvalidAccessToken", err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: nti.GetRefresh()}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("new refresh token after the old one was reused: %v, want ErrInvalidRefreshToken", err)
	}
}

func TestManagerRefreshKeepingRefreshToken(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	m := newManager(t, s, &manage.RefreshingConfig{IsGenerateRefresh: false, IsRemoveAccess: true, IsRemoveRefreshing: true})
	ti := issue(t, m)
	refresh := ti.GetRefresh()
	for i := range 2 {
		nti, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: refresh})
		if err != nil {
			t.Fatalf("refresh %d with the kept refresh token: %v", i, err)
		}
		if nti.GetRefresh() != "" {
			t.Fatal("a refresh token was returned although none was generated")
		}
		if _, err := m.LoadAccessToken(ctx, nti.GetAccess()); err != nil {
			t.Fatalf("new access token: %v", err)
		}
	}
	// Revoking the refresh token ends the grant.
	if err := m.RemoveRefreshToken(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: refresh}); err != oerrors.ErrInvalidRefreshToken {
		t.Fatalf("revoked refresh token: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.Create(ctx, pairInfo("a", "r")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create: %v", err)
	}
	if _, err := ts.GetByCode(ctx, "c"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetByCode: %v", err)
	}
	if err := ts.RemoveByAccess(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("RemoveByAccess: %v", err)
	}
	if _, err := gooauth2.NewClientStore(s).GetByID(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetByID: %v", err)
	}
}
