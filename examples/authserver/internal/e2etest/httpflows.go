package e2etest

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
)

// request is a raw HTTP request to the server.
type request struct {
	method, path string
	query        url.Values  // URL query parameters, if any
	form         url.Values  // body parameters, if any
	contentType  string      // default application/x-www-form-urlencoded with a form
	basic        [2]string   // HTTP Basic user and password, if user is set
	header       http.Header // more headers
}

// response is what the server answered.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any // the body, if JSON
}

func (r response) errorCode() string { s, _ := r.json["error"].(string); return s }

func (h *harness) do(req request) response {
	h.t.Helper()
	u := h.base + req.path
	if req.query != nil {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.form != nil {
		body = strings.NewReader(req.form.Encode())
	}
	hr, err := http.NewRequestWithContext(h.ctx, req.method, u, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if req.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if req.basic[0] != "" {
		hr.SetBasicAuth(url.QueryEscape(req.basic[0]), url.QueryEscape(req.basic[1]))
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	resp, err := h.hc.Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		if err := json.Unmarshal(raw, &out.json); err != nil {
			h.t.Fatalf("%s %s: JSON body %q: %v", req.method, req.path, raw, err)
		}
	}
	return out
}

func basicOf(cfg *oauth2.Config) [2]string { return [2]string{cfg.ClientID, cfg.ClientSecret} }

// The bypass of the client check on refresh (a security issue): go-oauth2
// reads parameters from the URL query too, so a refresh request whose
// grant_type and refresh_token sat in the query, with any public client in
// the body, slipped past a check made on the body alone. Every spelling is
// refused, and the victim's refresh token stays untouched.
func flowRefreshParamsInQuery(t *testing.T, h *harness) {
	victim := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
	attacker := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
	tok := h.tokens(victim)
	for _, c := range []struct {
		name        string
		query, form url.Values
		code        string
	}{
		{"grant in the query", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			url.Values{"client_id": {attacker.ClientID}}, "invalid_request"},
		{"refresh token in the query", url.Values{"refresh_token": {tok.RefreshToken}},
			url.Values{"grant_type": {"refresh_token"}, "client_id": {attacker.ClientID}}, "invalid_request"},
		{"client in the query", url.Values{"client_id": {victim.ClientID}},
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {attacker.ClientID}}, "invalid_request"},
		{"all in the query", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {attacker.ClientID}},
			url.Values{}, "invalid_request"},
		{"all in the body", nil,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {attacker.ClientID}}, "invalid_grant"},
	} {
		got := h.do(request{method: http.MethodPost, path: "/token", query: c.query, form: c.form})
		if got.status != http.StatusBadRequest || got.errorCode() != c.code || got.json["access_token"] != nil {
			t.Fatalf("%s: %d %s, want 400 %s", c.name, got.status, got.raw, c.code)
		}
	}
	// The victim's tokens were neither rotated nor revoked.
	if in := h.introspect(tok.AccessToken); in["active"] != true {
		t.Fatalf("the victim's access token after the attempts: %v", in)
	}
	if _, err := h.refresh(victim, tok.RefreshToken); err != nil {
		t.Fatalf("the victim's refresh after the attempts: %v", err)
	}
}

// Introspection rights (RFC 7662 2.1, 4): a resource server may introspect
// every token, any other confidential client only its own; a public client
// not at all. A refresh token's introspection has no token_type (RFC 7662
// 2.2 means the type of RFC 6749 5.1).
func flowIntrospectionRights(t *testing.T, h *harness) {
	other := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}})
	tok := h.tokens(h.cfg)
	for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
		if in := h.introspectAs(other, v); in["active"] != false || len(in) != 1 {
			t.Fatalf("another client's token, introspected by a client that is not a resource server: %v", in)
		}
		if in := h.introspectAs(h.cfg, v); in["active"] != true || in["client_id"] != h.cfg.ClientID {
			t.Fatalf("the client's own token: %v", in)
		}
		if in := h.introspect(v); in["active"] != true || in["client_id"] != h.cfg.ClientID {
			t.Fatalf("a resource server: %v", in)
		}
	}
	access, refresh := h.introspect(tok.AccessToken), h.introspect(tok.RefreshToken)
	if access["token_type"] != "Bearer" || access["sub"] != app.DemoUserID || access["scope"] != "read" {
		t.Fatalf("access token: %v", access)
	}
	if _, ok := refresh["token_type"]; ok || refresh["sub"] != app.DemoUserID {
		t.Fatalf("refresh token: %v, want no token_type", refresh)
	}
	if refresh["exp"].(float64) <= access["exp"].(float64) {
		t.Fatalf("refresh token exp %v not after the access token's %v", refresh["exp"], access["exp"])
	}
	pub := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
	got := h.do(request{method: http.MethodPost, path: "/introspect", form: url.Values{"token": {tok.AccessToken}, "client_id": {pub.ClientID}}})
	if got.status != http.StatusUnauthorized || got.errorCode() != "invalid_client" {
		t.Fatalf("introspection by a public client: %d %s", got.status, got.raw)
	}
}

// Without the unsafe demo option the server signs no one in: /authorize
// refuses with access_denied, and there is no password grant. A
// UserAuthorization hook signs users in instead, and may answer with a
// login page of its own.
func flowSafeDefaults(t *testing.T, h *harness) {
	safe := newHarness(t, h.store.Storage, h.clock, app.Config{})
	cfg := *h.cfg
	cfg.Endpoint = oauth2.Endpoint{AuthURL: safe.base + "/authorize", TokenURL: safe.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	_, notice, err := walkthrough.Authorize(safe.ctx, safe.hc, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "s")
	var ae *walkthrough.AuthorizeError
	if !errors.As(err, &ae) || ae.Status != http.StatusFound || ae.Code != "access_denied" || notice != "" {
		t.Fatalf("authorization without a way to sign users in: %v (notice %q), want a redirect with access_denied", err, notice)
	}
	_, err = cfg.PasswordCredentialsToken(safe.ctx, app.DemoUsername, app.DemoPassword)
	wantCode(t, "password grant without the unsafe option", err, "unsupported_grant_type")

	// A hook that shows a login page until the user is signed in.
	hooked := newHarness(t, h.store.Storage, h.clock, app.Config{UserAuthorization: func(w http.ResponseWriter, r *http.Request) (string, error) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			return u, nil
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<form>login</form>")
		return "", nil
	}})
	cfg.Endpoint.AuthURL, cfg.Endpoint.TokenURL = hooked.base+"/authorize", hooked.base+"/token"
	verifier := oauth2.GenerateVerifier()
	authURL, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	page := hooked.do(request{method: http.MethodGet, path: "/authorize", query: authURL.Query()})
	if page.status != http.StatusOK || string(page.raw) != "<form>login</form>" {
		t.Fatalf("the login page: %d %q", page.status, page.raw)
	}
	signed := hooked.do(request{method: http.MethodGet, path: "/authorize", query: authURL.Query(), header: http.Header{"X-Test-User": {"alice"}}})
	loc, err := url.Parse(signed.header.Get("Location"))
	if signed.status != http.StatusFound || err != nil || loc.Query().Get("code") == "" || signed.header.Get("X-Demo-Notice") != "" {
		t.Fatalf("signed in: %d %v", signed.status, signed.header)
	}
	tok, err := cfg.Exchange(hooked.ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if in := h.introspect(tok.AccessToken); in["sub"] != "alice" || in["username"] != nil {
		t.Fatalf("the token of the signed-in user: %v", in)
	}
}
