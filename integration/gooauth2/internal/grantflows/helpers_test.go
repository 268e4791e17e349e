package grantflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
	omodels "github.com/go-oauth2/oauth2/v4/models"

	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The helpers below are those of package gooauth2's tests that the flows
// use.

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
