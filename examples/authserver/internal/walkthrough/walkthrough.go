// Package walkthrough drives the demo authorization server through the
// whole life of a grant with golang.org/x/oauth2 and prints every step:
// what `go run ./examples/authserver -walkthrough` shows.
package walkthrough

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// RedirectURI is the redirect URI the walkthrough registers. Nothing needs
// to listen there: the walkthrough reads the code from the redirect.
const RedirectURI = "http://127.0.0.1:9094/callback"

// Options configures [Run].
type Options struct {
	// Out receives the steps; nil means os.Stdout.
	Out io.Writer
	// DSN names the backend (see package internal/dsn); empty means a
	// SQLite file in a new temporary directory, removed at the end.
	DSN string
	// Hasher hashes the client secret; nil means [secret.Default].
	Hasher secret.Hasher
}

// Run starts the server on 127.0.0.1 at a free port and walks a grant
// through its life, printing each step. It returns an error as soon as a
// step does not behave as it should. The server runs with the unsafe demo
// option [app.Config.UnsafeAutoApproveAs] on: the walkthrough has no user
// to sign in, so the server signs in its demo user and approves.
func Run(ctx context.Context, o Options) (err error) {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	d := o.DSN
	if d == "" {
		dir, err := os.MkdirTemp("", "authserver-walkthrough-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		d = "sqlite:" + filepath.Join(dir, "authserver.db")
	}
	clock := &app.Clock{}
	store, closeStore, err := dsn.Open(ctx, d, dsn.WithClock(clock.Now), dsn.WithHasher(o.Hasher))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeStore(); err == nil {
			err = cerr
		}
	}()
	srv, err := app.New(app.Config{Store: store, UnsafeAutoApproveAs: app.DemoUserID})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	w := &walk{out: out, base: base, store: store, clock: clock}
	fmt.Fprintf(out, "oauthstore walkthrough: a go-oauth2 authorization server on oauthstore, driven by golang.org/x/oauth2\n")
	fmt.Fprintf(out, "backend %s, server %s\n", dsn.Redact(d), base)
	return w.run(ctx, srv)
}

type walk struct {
	out   io.Writer
	base  string
	store storage.Storage
	clock *app.Clock
	n     int
}

func (w *walk) step(title string) {
	w.n++
	fmt.Fprintf(w.out, "\n[%d] %s\n", w.n, title)
}

func (w *walk) detail(format string, args ...any) {
	fmt.Fprintf(w.out, "    "+format+"\n", args...)
}

// Abbrev shows a credential as its first four characters and its length,
// as in "eyJh…(43 chars)".
func Abbrev(s string) string {
	if len(s) <= 4 {
		return fmt.Sprintf("…(%d chars)", len(s))
	}
	return fmt.Sprintf("%s…(%d chars)", s[:4], len(s))
}

// ErrorCode returns the OAuth error code of an error from x/oauth2, or "".
func ErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func (w *walk) run(ctx context.Context, srv *app.Server) error {
	// 1. Register a client.
	id, secretValue, err := srv.CreateClient(ctx, app.ClientOptions{RedirectURIs: []string{RedirectURI}})
	if err != nil {
		return fmt.Errorf("registering the client: %w", err)
	}
	w.step("Client registered")
	w.detail("client_id     %s", id)
	w.detail("client_secret %s (the store keeps only a bcrypt hash of it)", Abbrev(secretValue))
	w.detail("redirect_uri  %s (matched exactly)", RedirectURI)

	cfg := &oauth2.Config{
		ClientID:     id,
		ClientSecret: secretValue,
		RedirectURL:  RedirectURI,
		Scopes:       []string{"profile", "read"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   w.base + "/authorize",
			TokenURL:  w.base + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	hc := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)

	// 2. Authorization request with PKCE S256.
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()[:16]
	code, notice, err := Authorize(ctx, hc, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), state)
	if err != nil {
		return err
	}
	w.step("Authorization code issued")
	w.detail("GET /authorize?response_type=code&client_id=%s&code_challenge=%s&code_challenge_method=S256&state=…", id, Abbrev(oauth2.S256ChallengeFromVerifier(verifier)))
	w.detail("server says: %s", notice)
	w.detail("302 to %s?code=%s&state=(matches)", RedirectURI, Abbrev(code))

	// 3. Exchange with the verifier.
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchanging the code: %w", err)
	}
	w.step("Code exchanged with PKCE S256 (code_verifier sent, client authenticated with HTTP Basic)")
	w.detail("access_token  %s, expires in %s", Abbrev(tok.AccessToken), time.Until(tok.Expiry).Round(time.Minute))
	w.detail("refresh_token %s, scope %q", Abbrev(tok.RefreshToken), tok.Extra("scope"))

	// 4. Use the token.
	info, status, err := getJSON(cfg.Client(ctx, tok), w.base+"/userinfo")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("GET /userinfo with the access token: status %d, %v", status, err)
	}
	w.step("Access token used")
	w.detail("GET /userinfo (Authorization: Bearer %s) → 200 sub=%v client_id=%v scope=%q", Abbrev(tok.AccessToken), info["sub"], info["client_id"], info["scope"])
	intro, err := Introspect(ctx, hc, w.base, id, secretValue, tok.AccessToken)
	if err != nil {
		return err
	}
	if intro["active"] != true {
		return fmt.Errorf("introspection of the fresh access token: %v", intro)
	}
	w.detail("POST /introspect → active=%v sub=%v exp in %s", intro["active"], intro["sub"], expIn(intro))

	// 5. Refresh through a TokenSource (the token is made to look
	// expired to x/oauth2, which then refreshes it).
	old := *tok
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	tok2, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil {
		return fmt.Errorf("refreshing: %w", err)
	}
	if tok2.AccessToken == old.AccessToken || tok2.RefreshToken == "" || tok2.RefreshToken == old.RefreshToken {
		return errors.New("the refresh did not rotate both tokens")
	}
	w.step("Refreshed with oauth2.TokenSource (refresh token rotation)")
	w.detail("new access_token  %s", Abbrev(tok2.AccessToken))
	w.detail("new refresh_token %s", Abbrev(tok2.RefreshToken))
	if err := w.inactive(ctx, hc, id, secretValue, old.AccessToken); err != nil {
		return fmt.Errorf("the old access token after the refresh: %w", err)
	}
	w.detail("old access_token introspected → active=false (the store replaced the old pair)")

	// 6. Reuse detection: the old refresh token replayed.
	_, err = cfg.TokenSource(ctx, &stale).Token()
	if ErrorCode(err) != "invalid_grant" {
		return fmt.Errorf("the old refresh token after rotation: want invalid_grant, got %v", err)
	}
	w.step("Old refresh token replayed: reuse detected, the grant revoked")
	w.detail("old refresh_token %s sent again, as by an attacker who stole it → %s", Abbrev(old.RefreshToken), ErrorCode(err))
	if err := w.inactive(ctx, hc, id, secretValue, tok2.AccessToken); err != nil {
		return fmt.Errorf("the new access token after the reuse: %w", err)
	}
	w.detail("the client's new access_token %s introspected → active=false: the store revoked every token of the grant", Abbrev(tok2.AccessToken))
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	if ErrorCode(err) != "invalid_grant" {
		return fmt.Errorf("refresh with the new refresh token after the reuse: want invalid_grant, got %v", err)
	}
	w.detail("the client's refresh with its new refresh_token %s → %s: it must be authorized again", Abbrev(tok2.RefreshToken), ErrorCode(err))

	// 7. A second grant, whose code is replayed.
	code, verifier, tok3, err := w.grant(ctx, hc, cfg)
	if err != nil {
		return err
	}
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err == nil {
		return errors.New("the replayed code was accepted")
	}
	if ErrorCode(err) != "invalid_grant" {
		return fmt.Errorf("the replayed code: want invalid_grant, got %w", err)
	}
	w.step("Second grant: its code replayed, refused, the grant revoked")
	w.detail("code %s exchanged → access_token %s, refresh_token %s", Abbrev(code), Abbrev(tok3.AccessToken), Abbrev(tok3.RefreshToken))
	w.detail("same code exchanged again → %s: the store consumed it atomically at the first exchange", ErrorCode(err))
	if err := w.inactive(ctx, hc, id, secretValue, tok3.AccessToken); err != nil {
		return fmt.Errorf("the access token of a replayed code: %w", err)
	}
	w.detail("access_token %s → active=false: a replayed code revokes the tokens issued from it", Abbrev(tok3.AccessToken))

	// 8. A third grant, revoked.
	_, _, tok4, err := w.grant(ctx, hc, cfg)
	if err != nil {
		return err
	}
	status, err = Revoke(ctx, hc, w.base, id, secretValue, tok4.RefreshToken, "refresh_token")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("revoking: status %d, %v", status, err)
	}
	w.step("Third grant: revoked (RFC 7009)")
	w.detail("code exchanged → access_token %s, refresh_token %s", Abbrev(tok4.AccessToken), Abbrev(tok4.RefreshToken))
	w.detail("POST /revoke token=%s token_type_hint=refresh_token → %d; its access token goes with it", Abbrev(tok4.RefreshToken), status)

	// 9. Introspection says inactive.
	w.step("Introspection after revocation (RFC 7662)")
	for _, c := range []struct{ name, token string }{{"access_token ", tok4.AccessToken}, {"refresh_token", tok4.RefreshToken}} {
		if err := w.inactive(ctx, hc, id, secretValue, c.token); err != nil {
			return fmt.Errorf("the revoked %s: %w", strings.TrimSpace(c.name), err)
		}
		w.detail("%s %s → active=false", c.name, Abbrev(c.token))
	}
	_, status, err = getJSON(cfg.Client(ctx, tok4), w.base+"/userinfo")
	if err != nil || status != http.StatusUnauthorized {
		return fmt.Errorf("GET /userinfo with the revoked token: status %d, %v", status, err)
	}
	w.detail("GET /userinfo with the revoked access token → %d", status)
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok4.RefreshToken}).Token()
	if ErrorCode(err) != "invalid_grant" {
		return fmt.Errorf("refresh with the revoked refresh token: want invalid_grant, got %v", err)
	}
	w.detail("refresh with the revoked refresh token → %s", ErrorCode(err))

	// 10. Purge.
	advance := app.DefaultRefreshLifetime + 24*time.Hour
	w.clock.Advance(advance)
	n, err := w.store.PurgeExpired(ctx)
	if err != nil {
		return fmt.Errorf("purging: %w", err)
	}
	w.step("Purged")
	what := ""
	if n == 7 {
		what = " (the 3 used codes and the 4 revoked token pairs)"
	}
	w.detail("store clock advanced %s, past every lifetime; PurgeExpired deleted %d records%s", advance, n, what)
	fmt.Fprintf(w.out, "\nDone: client registered, code issued, exchanged with PKCE, token used, refreshed, reuse detected, code replay refused, revoked, inactive, purged.\n")
	return nil
}

// grant runs a whole authorization (PKCE S256) and code exchange, and
// returns the code, its verifier and the tokens.
func (w *walk) grant(ctx context.Context, hc *http.Client, cfg *oauth2.Config) (code, verifier string, tok *oauth2.Token, err error) {
	verifier = oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()[:16]
	code, _, err = Authorize(ctx, hc, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), state)
	if err != nil {
		return "", "", nil, err
	}
	tok, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", "", nil, fmt.Errorf("exchanging a code: %w", err)
	}
	return code, verifier, tok, nil
}

// inactive checks that introspection says token is not active.
func (w *walk) inactive(ctx context.Context, hc *http.Client, id, secretValue, token string) error {
	intro, err := Introspect(ctx, hc, w.base, id, secretValue, token)
	if err != nil {
		return err
	}
	if intro["active"] != false {
		return fmt.Errorf("introspection says %v, want active=false", intro)
	}
	return nil
}

func expIn(intro map[string]any) string {
	exp, ok := intro["exp"].(float64)
	if !ok {
		return "?"
	}
	return time.Until(time.Unix(int64(exp), 0)).Round(time.Minute).String()
}

// Authorize follows the authorization URL with hc (which must not follow
// redirects) and returns the code from the redirect, after checking state,
// and the server's demo notice.
func Authorize(ctx context.Context, hc *http.Client, authURL, state string) (code, notice string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("GET /authorize: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", "", &AuthorizeError{Status: resp.StatusCode, Body: string(body)}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", "", fmt.Errorf("GET /authorize: bad Location: %w", err)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", "", &AuthorizeError{Status: resp.StatusCode, Code: e}
	}
	if q.Get("state") != state {
		return "", "", errors.New("GET /authorize: state does not match")
	}
	if q.Get("code") == "" {
		return "", "", errors.New("GET /authorize: no code in the redirect")
	}
	return q.Get("code"), resp.Header.Get("X-Demo-Notice"), nil
}

// AuthorizeError is an authorization request the server refused, with a
// page (Code empty) or with an error redirect (Code set).
type AuthorizeError struct {
	Status int
	Code   string
	Body   string
}

func (e *AuthorizeError) Error() string {
	if e.Code != "" {
		return "authorization refused: " + e.Code
	}
	return fmt.Sprintf("authorization refused with status %d", e.Status)
}

func postForm(ctx context.Context, hc *http.Client, endpoint, id, secretValue string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secretValue))
	return hc.Do(req)
}

// Introspect posts token to base's /introspect as client id.
func Introspect(ctx context.Context, hc *http.Client, base, id, secretValue, token string) (map[string]any, error) {
	resp, err := postForm(ctx, hc, base+"/introspect", id, secretValue, url.Values{"token": {token}})
	if err != nil {
		return nil, fmt.Errorf("POST /introspect: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /introspect: status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("POST /introspect: %w", err)
	}
	return m, nil
}

// Revoke posts token to base's /revoke as client id and returns the status.
func Revoke(ctx context.Context, hc *http.Client, base, id, secretValue, token, hint string) (int, error) {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	resp, err := postForm(ctx, hc, base+"/revoke", id, secretValue, form)
	if err != nil {
		return 0, fmt.Errorf("POST /revoke: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func getJSON(hc *http.Client, u string) (map[string]any, int, error) {
	resp, err := hc.Get(u)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, resp.StatusCode, err
	}
	return m, resp.StatusCode, nil
}
