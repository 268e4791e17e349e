package gooauth2_test

import (
	"context"
	"fmt"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"

	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
)

// A go-oauth2 manager on an oauthstore store: a code is issued, exchanged
// with PKCE, and refused when replayed.
func ExampleNewTokenStore() {
	ctx := context.Background()
	store := memstore.New(memstore.WithHasher(secret.ForTests()))
	_ = store.CreateClient(ctx, &models.Client{
		ClientID:     "app",
		ClientSecret: "app-secret",
		RedirectURIs: []string{"https://app.example/callback"},
	})

	m := manage.NewDefaultManager()
	m.MapTokenStorage(gooauth2.NewTokenStore(store))
	m.MapClientStorage(gooauth2.NewClientStore(store))
	m.SetValidateURIHandler(gooauth2.ValidateURI)

	const verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
	code, err := m.GenerateAuthToken(ctx, oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: "app", UserID: "alice", RedirectURI: "https://app.example/callback",
		CodeChallenge: "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc", CodeChallengeMethod: oauth2.CodeChallengeS256,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	exchange := &oauth2.TokenGenerateRequest{
		ClientID: "app", ClientSecret: "app-secret", RedirectURI: "https://app.example/callback",
		Code: code.GetCode(), CodeVerifier: verifier,
	}
	ti, err := m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, exchange)
	fmt.Println("exchange:", err, "user:", ti.GetUserID(), "refresh token issued:", ti.GetRefresh() != "")
	_, err = m.GenerateAccessToken(ctx, oauth2.AuthorizationCode, exchange)
	fmt.Println("replay:", err)
	// Output:
	// exchange: <nil> user: alice refresh token issued: true
	// replay: invalid authorize code
}

// Client secrets are checked against the stored hash through go-oauth2's
// ClientPasswordVerifier, never compared in plaintext.
func ExampleNewClientStore() {
	ctx := context.Background()
	store := memstore.New(memstore.WithHasher(secret.ForTests()))
	_ = store.CreateClient(ctx, &models.Client{
		ClientID: "app", ClientSecret: "app-secret", RedirectURIs: []string{"https://app.example/callback"},
	})
	ci, _ := gooauth2.NewClientStore(store).GetByID(ctx, "app")
	v := ci.(oauth2.ClientPasswordVerifier)
	fmt.Printf("secret %q, right one %v, wrong one %v\n", ci.GetSecret(), v.VerifyPassword("app-secret"), v.VerifyPassword("guess"))
	fmt.Println("exact redirect URI:", gooauth2.ValidateURI(ci.GetDomain(), "https://app.example/callback"))
	fmt.Println("other path:", gooauth2.ValidateURI(ci.GetDomain(), "https://app.example/callback/../evil"))
	// Output:
	// secret "", right one true, wrong one false
	// exact redirect URI: <nil>
	// other path: invalid_grant
}

// Refresh tokens rotate, and a rotated refresh token presented again (it
// was stolen) revokes the whole grant: the pair the legitimate client got
// stops working too.
func ExampleNewTokenStore_refreshReuse() {
	ctx := context.Background()
	store := memstore.New(memstore.WithHasher(secret.ForTests()))
	_ = store.CreateClient(ctx, &models.Client{
		ClientID: "app", ClientSecret: "app-secret", RedirectURIs: []string{"https://app.example/callback"},
	})
	m := manage.NewDefaultManager()
	m.MapTokenStorage(gooauth2.NewTokenStore(store))
	m.MapClientStorage(gooauth2.NewClientStore(store))
	m.SetRefreshTokenCfg(manage.DefaultRefreshTokenCfg) // rotation

	// The password grant (user already authenticated) issues a pair.
	first, err := m.GenerateAccessToken(ctx, oauth2.PasswordCredentials, &oauth2.TokenGenerateRequest{
		ClientID: "app", ClientSecret: "app-secret", UserID: "alice",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	legit, err := m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: first.GetRefresh()})
	fmt.Println("legitimate refresh:", err)
	_, err = m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: first.GetRefresh()})
	fmt.Println("stolen refresh token replayed:", err)
	_, err = m.LoadAccessToken(ctx, legit.GetAccess())
	fmt.Println("legitimate access token:", err)
	_, err = m.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{Refresh: legit.GetRefresh()})
	fmt.Println("legitimate refresh token:", err)
	// Output:
	// legitimate refresh: <nil>
	// stolen refresh token replayed: invalid refresh token
	// legitimate access token: invalid access token
	// legitimate refresh token: invalid refresh token
}

// A native app registered with a loopback redirect URI may receive the
// redirect on any port (RFC 8252 7.3) with ValidateURILoopback; ValidateURI
// wants the URI exactly.
func ExampleValidateURILoopback() {
	ctx := context.Background()
	store := memstore.New(memstore.WithHasher(secret.ForTests()))
	_ = store.CreateClient(ctx, &models.Client{ClientID: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ci, _ := gooauth2.NewClientStore(store).GetByID(ctx, "cli")
	fmt.Println("loopback, port 51234:", gooauth2.ValidateURILoopback(ci.GetDomain(), "http://127.0.0.1:51234/callback"))
	fmt.Println("exact, port 51234:", gooauth2.ValidateURI(ci.GetDomain(), "http://127.0.0.1:51234/callback"))
	fmt.Println("loopback, other path:", gooauth2.ValidateURILoopback(ci.GetDomain(), "http://127.0.0.1:51234/other"))
	// Output:
	// loopback, port 51234: <nil>
	// exact, port 51234: invalid_grant
	// loopback, other path: invalid_grant
}
