package e2etest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/storage"
)

var flows = []Flow{
	{"Walkthrough", func(t *testing.T, h *harness) {
		code, verifier := h.authorize(h.cfg)
		tok, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if s := h.userinfo(tok); s != http.StatusOK {
			t.Fatalf("userinfo: %d", s)
		}
		in := h.introspect(tok.AccessToken)
		if in["active"] != true || in["sub"] != app.DemoUserID || in["client_id"] != h.cfg.ClientID || in["scope"] != "read" {
			t.Fatalf("introspection of a live token: %v", in)
		}
		tok2, err := h.refresh(h.cfg, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken || tok2.RefreshToken == "" {
			t.Fatal("refresh did not rotate")
		}
		if s := h.userinfo(tok); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with the old access token: %d", s)
		}
		if in := h.introspect(tok.RefreshToken); in["active"] != false {
			t.Fatalf("introspection of the rotated refresh token: %v", in)
		}
		if s := h.userinfo(tok2); s != http.StatusOK {
			t.Fatalf("userinfo with the new access token: %d", s)
		}
		if s, err := walkthrough.Revoke(h.ctx, h.hc, h.base, h.cfg.ClientID, h.cfg.ClientSecret, tok2.AccessToken, ""); err != nil || s != http.StatusOK {
			t.Fatalf("revoke: %d %v", s, err)
		}
		for _, v := range []string{tok2.AccessToken, tok2.RefreshToken, tok.AccessToken, "not-a-token"} {
			if in := h.introspect(v); in["active"] != false || len(in) != 1 {
				t.Fatalf("introspection after revocation: %v", in)
			}
		}
		if s := h.userinfo(tok2); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with a revoked token: %d", s)
		}
		_, err = h.refresh(h.cfg, tok2.RefreshToken)
		wantCode(t, "revoked refresh token", err, "invalid_grant")
		if n, err := h.store.PurgeExpired(h.ctx); err != nil || n != 0 {
			t.Fatalf("purge before anything expired: %d, %v", n, err)
		}
		h.clock.Advance(app.DefaultRefreshLifetime + time.Hour)
		n, err := h.store.PurgeExpired(h.ctx)
		if err != nil || n != 3 {
			t.Fatalf("purge: %d, %v; want 3 (the code and two pairs)", n, err)
		}
	}},
	{"CodeReplayRevokesGrant", func(t *testing.T, h *harness) {
		other := h.tokens(h.cfg) // another grant of the same client
		code, verifier := h.authorize(h.cfg)
		tok, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		tok2, err := h.refresh(h.cfg, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if in := h.introspect(tok2.AccessToken); in["active"] != true {
			t.Fatalf("refreshed access token before the replay: %v", in)
		}
		_, err = h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "replayed code", err, "invalid_grant")
		// The replay revoked the grant: the tokens issued from the code and
		// those refreshed from them.
		for _, v := range []string{tok2.AccessToken, tok2.RefreshToken} {
			if in := h.introspect(v); in["active"] != false {
				t.Fatalf("a token of the grant after its code was replayed: %v", in)
			}
		}
		if s := h.userinfo(tok2); s != http.StatusUnauthorized {
			t.Fatalf("userinfo after the code was replayed: %d", s)
		}
		_, err = h.refresh(h.cfg, tok2.RefreshToken)
		wantCode(t, "refresh after the code was replayed", err, "invalid_grant")
		// Not another grant.
		if in := h.introspect(other.AccessToken); in["active"] != true {
			t.Fatalf("another grant's access token: %v", in)
		}
		if _, err := h.refresh(h.cfg, other.RefreshToken); err != nil {
			t.Fatalf("another grant's refresh: %v", err)
		}
	}},
	{"ConcurrentRefreshes", func(t *testing.T, h *harness) {
		tok := h.tokens(h.cfg)
		const n = 16
		h.store.arm(gateRotate, n)
		wins, refused := race(t, n, "refresh", func() (*oauth2.Token, error) { return h.refresh(h.cfg, tok.RefreshToken) })
		if len(wins) != 1 || refused != n-1 {
			t.Fatalf("%d concurrent refreshes with one refresh token: %d succeeded, %d refused; want 1 and %d", n, len(wins), refused, n-1)
		}
		// The losers were reuses: the grant is revoked, the winner's new
		// pair included.
		win := wins[0]
		if win.AccessToken == "" || win.RefreshToken == "" || win.RefreshToken == tok.RefreshToken {
			t.Fatalf("the winner's tokens: %+v", win)
		}
		for _, v := range []string{win.AccessToken, win.RefreshToken, tok.AccessToken} {
			if in := h.introspect(v); in["active"] != false {
				t.Fatalf("a token of the grant after the concurrent refreshes: %v", in)
			}
		}
		if s := h.userinfo(win); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with the winner's access token: %d", s)
		}
		_, err := h.refresh(h.cfg, win.RefreshToken)
		wantCode(t, "refresh with the winner's refresh token", err, "invalid_grant")
	}},
	{"StolenRefreshToken", func(t *testing.T, h *harness) {
		// A public client: its refresh token alone (with its public ID)
		// refreshes, so a stolen one is enough for an attacker.
		pub := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
		other := h.tokens(pub) // another grant of the same client

		// The legitimate client rotates first; the attacker replays the old
		// refresh token afterwards.
		tok := h.tokens(pub)
		legit, err := h.refresh(pub, tok.RefreshToken)
		if err != nil {
			t.Fatalf("legitimate refresh: %v", err)
		}
		if in := h.introspect(legit.AccessToken); in["active"] != true {
			t.Fatalf("legitimate access token before the replay: %v", in)
		}
		_, err = h.refresh(pub, tok.RefreshToken)
		wantCode(t, "stolen refresh token replayed after the rotation", err, "invalid_grant")
		if in := h.introspect(legit.AccessToken); in["active"] != false {
			t.Fatalf("legitimate access token after the replay: %v, want active=false", in)
		}
		if s := h.userinfo(legit); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with the legitimate access token after the replay: %d", s)
		}
		_, err = h.refresh(pub, legit.RefreshToken)
		wantCode(t, "legitimate refresh after the replay", err, "invalid_grant")

		// The attacker refreshes first; the legitimate client's refresh is
		// then the reuse, and the attacker's tokens stop working.
		tok = h.tokens(pub)
		stolen, err := h.refresh(pub, tok.RefreshToken)
		if err != nil {
			t.Fatalf("attacker's refresh: %v", err)
		}
		_, err = h.refresh(pub, tok.RefreshToken)
		wantCode(t, "legitimate refresh after the attacker's", err, "invalid_grant")
		if in := h.introspect(stolen.AccessToken); in["active"] != false {
			t.Fatalf("attacker's access token after the legitimate client's refresh: %v", in)
		}
		_, err = h.refresh(pub, stolen.RefreshToken)
		wantCode(t, "attacker's refresh token after the reuse", err, "invalid_grant")

		// Neither touched another grant.
		if in := h.introspect(other.AccessToken); in["active"] != true {
			t.Fatalf("another grant's access token: %v", in)
		}
		if _, err := h.refresh(pub, other.RefreshToken); err != nil {
			t.Fatalf("another grant's refresh: %v", err)
		}
	}},
	{"NoGrantIDInTokenResponses", func(t *testing.T, h *harness) {
		post := func(form url.Values) map[string]any {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, h.base+"/token", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(h.cfg.ClientID, h.cfg.ClientSecret)
			resp, err := h.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /token %s: %d %s", form.Get("grant_type"), resp.StatusCode, body)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{"access_token": true, "token_type": true, "expires_in": true, "refresh_token": true, "scope": true}
			for k := range m {
				if !allowed[k] {
					t.Fatalf("POST /token %s: unexpected field %q in %s", form.Get("grant_type"), k, body)
				}
			}
			access, _ := m["access_token"].(string)
			tok, err := h.store.GetTokenByAccess(h.ctx, access)
			if err != nil {
				t.Fatal(err)
			}
			if tok.GrantID == "" || strings.Contains(string(body), tok.GrantID) || strings.Contains(string(body), gooauth2.GrantIDKey) {
				t.Fatalf("POST /token %s: the response shows the grant: %s", form.Get("grant_type"), body)
			}
			return m
		}
		code, verifier := h.authorize(h.cfg)
		m := post(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
		refresh, _ := m["refresh_token"].(string)
		post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		post(url.Values{"grant_type": {"password"}, "username": {app.DemoUsername}, "password": {app.DemoPassword}, "scope": {"read"}})
		post(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	}},
	{"WrongPKCEVerifier", func(t *testing.T, h *harness) {
		code, verifier := h.authorize(h.cfg)
		_, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantCode(t, "wrong verifier", err, "invalid_grant")
		// The failed exchange spent the code.
		_, err = h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "right verifier after a wrong one", err, "invalid_grant")

		code, _ = h.authorize(h.cfg)
		_, err = h.cfg.Exchange(h.ctx, code)
		wantCode(t, "no verifier", err, "invalid_request")

		// A verifier that is not 43 to 128 characters of [A-Za-z0-9-._~]
		// (RFC 7636 4.1) is refused before the code is read: the code
		// stays usable.
		code, verifier = h.authorize(h.cfg)
		for _, bad := range []string{"short", strings.Repeat("a", 42), strings.Repeat("a", 129), verifier[:42] + "!", verifier[:42] + " ", verifier[:42] + "/"} {
			_, err = h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(bad))
			wantCode(t, "malformed verifier "+bad, err, "invalid_grant")
		}
		if _, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("the right verifier after malformed ones: %v", err)
		}
	}},
	{"PKCEIsS256Only", func(t *testing.T, h *harness) {
		verifier := oauth2.GenerateVerifier()
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"plain":                        {oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
			"no method (plain by default)": {oauth2.SetAuthURLParam("code_challenge", verifier)},
			"no PKCE":                      nil,
			"malformed S256 challenge":     {oauth2.SetAuthURLParam("code_challenge", verifier+"x"), oauth2.SetAuthURLParam("code_challenge_method", "S256")},
		} {
			_, _, err := walkthrough.Authorize(h.ctx, h.hc, h.cfg.AuthCodeURL("s", opts...), "s")
			var ae *walkthrough.AuthorizeError
			if !errors.As(err, &ae) || ae.Status != http.StatusFound || ae.Code != "invalid_request" {
				t.Fatalf("authorization request, %s: %v, want a redirect with invalid_request", name, err)
			}
		}
	}},
	{"CodeOfAnotherClient", func(t *testing.T, h *harness) {
		other := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}})
		code, verifier := h.authorize(h.cfg)
		_, err := other.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "another client's code", err, "invalid_grant")
		bad := *h.cfg
		bad.ClientSecret = "wrong"
		code, verifier = h.authorize(h.cfg)
		_, err = bad.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "wrong client secret", err, "invalid_client")
		if _, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("the code after a failed client authentication: %v", err)
		}
	}},
	{"UnregisteredRedirectURI", func(t *testing.T, h *harness) {
		for _, u := range []string{redirectURI + "/evil", "http://127.0.0.1:9094/callback?x=1", "http://evil.example/callback"} {
			bad := *h.cfg
			bad.RedirectURL = u
			_, _, err := walkthrough.Authorize(h.ctx, h.hc, bad.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "s")
			var ae *walkthrough.AuthorizeError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "" {
				t.Fatalf("redirect_uri %q: %v (want a 400 page, no redirect)", u, err)
			}
		}
		// A code issued for one registered URI cannot be redeemed with another.
		two := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI, redirectURI + "2"}})
		code, verifier := h.authorize(two)
		two2 := *two
		two2.RedirectURL = redirectURI + "2"
		_, err := two2.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "exchange with another redirect URI", err, "invalid_grant")

		// A redirect URI that is not registered at all, at the token
		// endpoint: invalid_grant too (RFC 6749 5.2), not a server error.
		code, verifier = h.authorize(h.cfg)
		for _, u := range []string{"http://evil.example/callback", redirectURI + " http://evil.example/callback"} {
			bad := *h.cfg
			bad.RedirectURL = u
			_, err = bad.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
			wantCode(t, "exchange with the unregistered redirect URI "+u, err, "invalid_grant")
		}
	}},
	{"ExpiredCode", func(t *testing.T, h *harness) {
		issued := time.Now()
		code, verifier := h.authorize(h.cfg)
		h.clock.Advance(app.DefaultCodeLifetime + time.Second)
		_, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "expired code", err, "invalid_grant")
		// go-oauth2 checks code expiry against the wall clock, by which the
		// code is still valid: the refusal was the store's.
		if time.Since(issued) >= app.DefaultCodeLifetime {
			t.Fatal("the wall clock passed the code lifetime: the test proves nothing")
		}
		if _, err := h.store.GetAuthorizationCode(h.ctx, code); !errors.Is(err, storage.ErrExpired) {
			t.Fatalf("the store's view of the code: %v, want ErrExpired", err)
		}
	}},
	{"ExpiredAccessToken", func(t *testing.T, h *harness) {
		issued := time.Now()
		tok := h.tokens(h.cfg)
		h.clock.Advance(app.DefaultAccessLifetime + time.Second)
		if s := h.userinfo(tok); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with an expired access token: %d", s)
		}
		if time.Since(issued) >= app.DefaultAccessLifetime {
			t.Fatal("the wall clock passed the access lifetime: the test proves nothing")
		}
		if in := h.introspect(tok.AccessToken); in["active"] != false {
			t.Fatalf("introspection of an expired access token: %v", in)
		}
		if in := h.introspect(tok.RefreshToken); in["active"] != true {
			t.Fatalf("introspection of its refresh token, still valid: %v", in)
		}
	}},
	{"RevokedRefreshToken", func(t *testing.T, h *harness) {
		tok := h.tokens(h.cfg)
		// Another client cannot revoke it: 200 (RFC 7009) but nothing happens.
		other := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}})
		if s, err := walkthrough.Revoke(h.ctx, h.hc, h.base, other.ClientID, other.ClientSecret, tok.RefreshToken, "refresh_token"); err != nil || s != http.StatusOK {
			t.Fatalf("revoke by another client: %d %v", s, err)
		}
		if in := h.introspect(tok.AccessToken); in["active"] != true {
			t.Fatalf("after another client's revoke: %v", in)
		}
		// Nor refresh it.
		_, err := h.refresh(other, tok.RefreshToken)
		wantCode(t, "refresh by another client", err, "invalid_grant")
		// A wrong secret is refused outright.
		if s, _ := walkthrough.Revoke(h.ctx, h.hc, h.base, h.cfg.ClientID, "wrong", tok.RefreshToken, ""); s != http.StatusUnauthorized {
			t.Fatalf("revoke with a wrong secret: %d", s)
		}
		if s, err := walkthrough.Revoke(h.ctx, h.hc, h.base, h.cfg.ClientID, h.cfg.ClientSecret, tok.RefreshToken, "refresh_token"); err != nil || s != http.StatusOK {
			t.Fatalf("revoke: %d %v", s, err)
		}
		_, err = h.refresh(h.cfg, tok.RefreshToken)
		wantCode(t, "revoked refresh token", err, "invalid_grant")
		if s := h.userinfo(tok); s != http.StatusUnauthorized {
			t.Fatalf("userinfo with the access token of a revoked pair: %d", s)
		}
		// Revoking again is fine.
		if s, _ := walkthrough.Revoke(h.ctx, h.hc, h.base, h.cfg.ClientID, h.cfg.ClientSecret, tok.RefreshToken, ""); s != http.StatusOK {
			t.Fatalf("revoke again: %d", s)
		}
	}},
	{"RefreshScope", func(t *testing.T, h *harness) {
		tok := h.tokens(h.cfg) // scope "read"
		post := func(scope string) int {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {scope}}
			req, err := http.NewRequest(http.MethodPost, h.base+"/token", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(h.cfg.ClientID, h.cfg.ClientSecret)
			resp, err := h.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := post("read write"); s != http.StatusBadRequest {
			t.Fatalf("refresh widening the scope: %d, want 400 invalid_scope", s)
		}
		if s := post("read"); s != http.StatusOK {
			t.Fatalf("refresh with the granted scope: %d", s)
		}
	}},
	{"ConcurrentExchanges", func(t *testing.T, h *harness) {
		code, verifier := h.authorize(h.cfg)
		const n = 32
		h.store.arm(gateCodes, n)
		wins, refused := race(t, n, "exchange", func() (*oauth2.Token, error) {
			return h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		})
		if len(wins) != 1 || refused != n-1 {
			t.Fatalf("%d exchanges: %d tokens, %d refused; want 1 and %d", n, len(wins), refused, n-1)
		}
		if wins[0].AccessToken == "" || wins[0].RefreshToken == "" {
			t.Fatalf("the winner's tokens: %+v", wins[0])
		}
		// The losers were replays, but whether one reached the store after
		// the winner's token was stored is a matter of timing. A replay now
		// revokes the winner's token for sure.
		_, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
		wantCode(t, "a replay after the race", err, "invalid_grant")
		if s := h.userinfo(wins[0]); s != http.StatusUnauthorized {
			t.Fatalf("the winner's token after a replay of its code: %d", s)
		}
	}},
	{"OtherGrants", func(t *testing.T, h *harness) {
		tok, err := clientCredentials(h.ctx, h.cfg)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if tok.RefreshToken != "" {
			t.Fatal("client_credentials issued a refresh token")
		}
		if in := h.introspect(tok.AccessToken); in["active"] != true || in["client_id"] != h.cfg.ClientID {
			t.Fatalf("client_credentials token: %v", in)
		}
		ptok, err := h.cfg.PasswordCredentialsToken(h.ctx, app.DemoUsername, app.DemoPassword)
		if err != nil {
			t.Fatalf("password grant: %v", err)
		}
		if in := h.introspect(ptok.AccessToken); in["active"] != true || in["sub"] != app.DemoUserID {
			t.Fatalf("password token: %v", in)
		}
		_, err = h.cfg.PasswordCredentialsToken(h.ctx, app.DemoUsername, "wrong")
		wantCode(t, "wrong password", err, "invalid_grant")
		pub := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
		_, err = clientCredentials(h.ctx, pub)
		if err == nil {
			t.Fatal("client_credentials for a public client")
		}
		pubPost := *pub
		pubPost.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		_, err = pubPost.PasswordCredentialsToken(h.ctx, app.DemoUsername, app.DemoPassword)
		wantCode(t, "password grant for a public client", err, "unauthorized_client")
		// client_secret_post works as well as HTTP Basic.
		post := *h.cfg
		post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		code, verifier := h.authorize(&post)
		if _, err := post.Exchange(h.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange with client_secret_post: %v", err)
		}
		// A public client completes the code flow with PKCE alone.
		code, verifier = h.authorize(pub)
		if _, err := pub.Exchange(h.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("public client exchange: %v", err)
		}
	}},
	{"RefreshParamsInQuery", flowRefreshParamsInQuery},
	{"IntrospectionRights", flowIntrospectionRights},
	{"SafeDefaults", flowSafeDefaults},
	{"ErrorResponses", flowErrorResponses},
}

func clientCredentials(ctx context.Context, cfg *oauth2.Config) (*oauth2.Token, error) {
	cc := &clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.Endpoint.TokenURL,
		Scopes: []string{"read"}, AuthStyle: oauth2.AuthStyleInHeader,
	}
	return cc.Token(ctx)
}

// race runs call from n goroutines released at once and returns the tokens
// of those that succeeded and how many were refused with invalid_grant;
// any other error fails t.
func race(t *testing.T, n int, what string, call func() (*oauth2.Token, error)) (wins []*oauth2.Token, refused int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			tok, err := call()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, tok)
			case walkthrough.ErrorCode(err) == "invalid_grant":
				refused++
			default:
				t.Errorf("%s: %v", what, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins, refused
}
