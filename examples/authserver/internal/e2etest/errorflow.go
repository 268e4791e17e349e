package e2etest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
)

// errorCase is a request and the error response it must get.
type errorCase struct {
	name   string
	req    request
	status int
	// code is the OAuth error code: in the JSON body at /token, /revoke,
	// /introspect and /userinfo, in the redirect at /authorize; "" for
	// none (an /authorize error page, a bare /userinfo challenge).
	code string
	// challenge is what WWW-Authenticate must start with; "" for no
	// header.
	challenge string
}

const basicChallenge = `Basic realm="` + app.Realm + `"`

// flowErrorResponses checks the status, body and headers of every error
// case of every endpoint: RFC 6749 4.1.2.1 and 5.2, RFC 6750 3, RFC 7009
// 2.2.1, RFC 7662 2.3, and RFC 7235 3.1 (every 401 carries a challenge).
func flowErrorResponses(t *testing.T, h *harness) {
	pub := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, Public: true})
	other := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}})
	two := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI, redirectURI + "2"}})
	rsWithRedirect := h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}, ResourceServer: true})
	tok := h.tokens(h.cfg)
	otherTok := h.tokens(other)
	revoked := h.tokens(h.cfg)
	if _, err := h.refresh(h.cfg, revoked.RefreshToken); err != nil { // rotates: revoked's access token is dead
		t.Fatal(err)
	}
	code, verifier := h.authorize(h.cfg)
	otherCode, otherVerifier := h.authorize(h.cfg) // spent by another client's attempt
	basic := basicOf(h.cfg)
	wrong := [2]string{h.cfg.ClientID, "wrong"}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	post := func(path string, f url.Values, b [2]string) request {
		return request{method: http.MethodPost, path: path, form: f, basic: b}
	}
	exchange := func(kv ...string) url.Values {
		f := form("grant_type", "authorization_code", "code", code, "redirect_uri", redirectURI, "code_verifier", verifier)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	authorizeQuery := func(cfg *oauth2.Config, kv ...string) url.Values {
		u, _ := url.Parse(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		q := u.Query()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				q.Del(kv[i])
			} else {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q
	}
	get := func(path string, q url.Values) request { return request{method: http.MethodGet, path: path, query: q} }
	bearer := func(v string) http.Header { return http.Header{"Authorization": {"Bearer " + v}} }
	const bearerChallenge = `Bearer realm="` + app.Realm + `"`
	const invalidToken = bearerChallenge + `, error="invalid_token"`

	cases := []errorCase{
		// /token
		{"token: parameter in the URL query", request{method: http.MethodPost, path: "/token", query: form("scope", "read"), form: form("grant_type", "client_credentials"), basic: basic}, 400, "invalid_request", ""},
		{"token: empty URL query", request{method: http.MethodPost, path: "/token", query: url.Values{}, form: form("grant_type", "client_credentials"), basic: basic}, 400, "invalid_request", ""},
		{"token: JSON body", request{method: http.MethodPost, path: "/token", form: form("grant_type", "client_credentials"), contentType: "application/json", basic: basic}, 400, "invalid_request", ""},
		{"token: parameter twice", post("/token", form("grant_type", "client_credentials", "grant_type", "client_credentials"), basic), 400, "invalid_request", ""},
		{"token: no grant_type", post("/token", form("scope", "read"), basic), 400, "invalid_request", ""},
		{"token: implicit grant", post("/token", form("grant_type", "implicit"), basic), 400, "unsupported_grant_type", ""},
		{"token: unknown grant", post("/token", form("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), basic), 400, "unsupported_grant_type", ""},
		{"token: wrong secret, HTTP Basic", post("/token", form("grant_type", "client_credentials"), wrong), 401, "invalid_client", basicChallenge},
		{"token: wrong secret, client_secret_post", post("/token", form("grant_type", "client_credentials", "client_id", h.cfg.ClientID, "client_secret", "wrong"), [2]string{}), 401, "invalid_client", basicChallenge},
		{"token: unknown client", post("/token", form("grant_type", "client_credentials"), [2]string{"nobody", "x"}), 401, "invalid_client", basicChallenge},
		{"token: no client authentication", post("/token", form("grant_type", "client_credentials"), [2]string{}), 401, "invalid_client", basicChallenge},
		{"token: public client sending a secret", post("/token", exchange("client_id", pub.ClientID, "client_secret", "x"), [2]string{}), 401, "invalid_client", basicChallenge},
		{"token: Bearer authorization", request{method: http.MethodPost, path: "/token", form: form("grant_type", "client_credentials"), header: bearer(tok.AccessToken)}, 401, "invalid_client", basicChallenge},
		{"token: HTTP Basic and client_secret", post("/token", form("grant_type", "client_credentials", "client_secret", h.cfg.ClientSecret), basic), 400, "invalid_request", ""},
		{"token: client_id differs from HTTP Basic", post("/token", form("grant_type", "client_credentials", "client_id", other.ClientID), basic), 400, "invalid_request", ""},
		{"token: unknown code", post("/token", exchange("code", "nope"), basic), 400, "invalid_grant", ""},
		{"token: unregistered redirect_uri", post("/token", exchange("redirect_uri", "http://evil.example/cb"), basic), 400, "invalid_grant", ""},
		{"token: no redirect_uri", post("/token", exchange("redirect_uri", ""), basic), 400, "invalid_request", ""},
		{"token: no code_verifier", post("/token", exchange("code_verifier", ""), basic), 400, "invalid_request", ""},
		{"token: malformed code_verifier", post("/token", exchange("code_verifier", "too-short"), basic), 400, "invalid_grant", ""},
		{"token: another client's code", post("/token", exchange("code", otherCode, "code_verifier", otherVerifier), basicOf(other)), 400, "invalid_grant", ""},
		{"token: no refresh_token", post("/token", form("grant_type", "refresh_token"), basic), 400, "invalid_request", ""},
		{"token: unknown refresh token", post("/token", form("grant_type", "refresh_token", "refresh_token", "nope"), basic), 400, "invalid_grant", ""},
		{"token: another client's refresh token", post("/token", form("grant_type", "refresh_token", "refresh_token", otherTok.RefreshToken), basic), 400, "invalid_grant", ""},
		{"token: refresh widening the scope", post("/token", form("grant_type", "refresh_token", "refresh_token", tok.RefreshToken, "scope", "read write"), basic), 400, "invalid_scope", ""},
		{"token: scope outside the client's", post("/token", form("grant_type", "client_credentials", "scope", "admin"), basic), 400, "invalid_scope", ""},
		{"token: the resource-server marker as a scope", post("/token", form("grant_type", "client_credentials", "scope", app.ResourceServerScope), basicOf(h.rs)), 400, "invalid_scope", ""},
		{"token: client_credentials, public client", post("/token", form("grant_type", "client_credentials", "client_id", pub.ClientID), [2]string{}), 400, "unauthorized_client", ""},
		{"token: wrong password", post("/token", form("grant_type", "password", "username", app.DemoUsername, "password", "wrong"), basic), 400, "invalid_grant", ""},
		{"token: password grant, public client", post("/token", form("grant_type", "password", "username", app.DemoUsername, "password", app.DemoPassword, "client_id", pub.ClientID), [2]string{}), 400, "unauthorized_client", ""},

		// /revoke
		{"revoke: parameter in the URL query", request{method: http.MethodPost, path: "/revoke", query: form("token", tok.AccessToken), form: form(), basic: basic}, 400, "invalid_request", ""},
		{"revoke: no token", post("/revoke", form("token_type_hint", "access_token"), basic), 400, "invalid_request", ""},
		{"revoke: token twice", post("/revoke", form("token", tok.AccessToken, "token", otherTok.AccessToken), basic), 400, "invalid_request", ""},
		{"revoke: JSON body", request{method: http.MethodPost, path: "/revoke", form: form("token", tok.AccessToken), contentType: "application/json", basic: basic}, 400, "invalid_request", ""},
		{"revoke: wrong secret", post("/revoke", form("token", tok.AccessToken), wrong), 401, "invalid_client", basicChallenge},
		{"revoke: no client authentication", post("/revoke", form("token", tok.AccessToken), [2]string{}), 401, "invalid_client", basicChallenge},

		// /introspect
		{"introspect: parameter in the URL query", request{method: http.MethodPost, path: "/introspect", query: form("token", tok.AccessToken), form: form(), basic: basicOf(h.rs)}, 400, "invalid_request", ""},
		{"introspect: no token", post("/introspect", form(), basicOf(h.rs)), 400, "invalid_request", ""},
		{"introspect: wrong secret", post("/introspect", form("token", tok.AccessToken), [2]string{h.rs.ClientID, "wrong"}), 401, "invalid_client", basicChallenge},
		{"introspect: public client", post("/introspect", form("token", tok.AccessToken, "client_id", pub.ClientID), [2]string{}), 401, "invalid_client", basicChallenge},

		// /authorize: no redirect for a bad client or redirect URI
		{"authorize: unknown client", get("/authorize", authorizeQuery(h.cfg, "client_id", "nobody")), 400, "", ""},
		{"authorize: unregistered redirect_uri", get("/authorize", authorizeQuery(h.cfg, "redirect_uri", "http://evil.example/cb")), 400, "", ""},
		{"authorize: redirect_uri with a port of its own", get("/authorize", authorizeQuery(h.cfg, "redirect_uri", "http://127.0.0.1:9095/callback")), 400, "", ""},
		{"authorize: no redirect_uri, two registered", get("/authorize", authorizeQuery(two, "redirect_uri", "")), 400, "", ""},
		{"authorize: parameter twice", get("/authorize", func() url.Values { q := authorizeQuery(h.cfg); q.Add("client_id", other.ClientID); return q }()), 400, "", ""},
		// /authorize: errors redirected, with the state
		{"authorize: response_type token", get("/authorize", authorizeQuery(h.cfg, "response_type", "token")), 302, "unsupported_response_type", ""},
		{"authorize: no response_type", get("/authorize", authorizeQuery(h.cfg, "response_type", "")), 302, "invalid_request", ""},
		{"authorize: no PKCE", get("/authorize", authorizeQuery(h.cfg, "code_challenge", "", "code_challenge_method", "")), 302, "invalid_request", ""},
		{"authorize: plain PKCE", get("/authorize", authorizeQuery(h.cfg, "code_challenge", verifier, "code_challenge_method", "plain")), 302, "invalid_request", ""},
		{"authorize: malformed challenge", get("/authorize", authorizeQuery(h.cfg, "code_challenge", strings.Repeat("a", 50))), 302, "invalid_request", ""},
		{"authorize: scope outside the client's", get("/authorize", authorizeQuery(h.cfg, "scope", "admin")), 302, "invalid_scope", ""},
		{"authorize: the resource-server marker as a scope", get("/authorize", authorizeQuery(rsWithRedirect, "scope", app.ResourceServerScope)), 302, "invalid_scope", ""},

		// /userinfo
		{"userinfo: no token", get("/userinfo", nil), 401, "", bearerChallenge},
		{"userinfo: token in the URL query", get("/userinfo", form("access_token", tok.AccessToken)), 401, "", bearerChallenge},
		{"userinfo: HTTP Basic", request{method: http.MethodGet, path: "/userinfo", basic: basic}, 401, "", bearerChallenge},
		{"userinfo: unknown token", request{method: http.MethodGet, path: "/userinfo", header: bearer("nope")}, 401, "invalid_token", invalidToken},
		{"userinfo: rotated token", request{method: http.MethodGet, path: "/userinfo", header: bearer(revoked.AccessToken)}, 401, "invalid_token", invalidToken},
	}
	for _, c := range cases {
		got := h.do(c.req)
		if got.status != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.status, c.status, got.raw)
			continue
		}
		ch := got.header.Get("WWW-Authenticate")
		if (c.challenge == "") != (ch == "") || !strings.HasPrefix(ch, c.challenge) {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, ch, c.challenge)
		}
		if got.status == http.StatusUnauthorized && ch == "" {
			t.Errorf("%s: a 401 without WWW-Authenticate (RFC 7235 3.1)", c.name)
		}
		if got.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", c.name, got.header.Get("Cache-Control"))
		}
		switch {
		case c.req.path == "/authorize" && c.status == http.StatusFound:
			loc, err := url.Parse(got.header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
				t.Errorf("%s: Location %q", c.name, got.header.Get("Location"))
				continue
			}
			q := loc.Query()
			if q.Get("error") != c.code || q.Get("state") != "st" || q.Has("code") || q.Get("error_description") == "" {
				t.Errorf("%s: redirect query %v, want error=%s with the state", c.name, q, c.code)
			}
		case c.req.path == "/authorize":
			if got.header.Get("Location") != "" || !strings.HasPrefix(got.header.Get("Content-Type"), "text/html") ||
				!strings.Contains(string(got.raw), "Authorization refused") {
				t.Errorf("%s: %v %q, want an error page and no redirect", c.name, got.header, got.raw)
			}
		case c.code == "":
			if len(got.raw) != 0 {
				t.Errorf("%s: body %q, want none", c.name, got.raw)
			}
		default:
			if got.json == nil || got.errorCode() != c.code {
				t.Errorf("%s: body %q (Content-Type %q), want a JSON error %s", c.name, got.raw, got.header.Get("Content-Type"), c.code)
			}
			for k, v := range got.json {
				if _, ok := v.(string); !ok || (k != "error" && k != "error_description" && k != "error_uri") {
					t.Errorf("%s: unexpected member %q: %v in %s", c.name, k, v, got.raw)
				}
			}
			if c.req.path != "/userinfo" && got.json["error_description"] == "" {
				t.Errorf("%s: no error_description in %s", c.name, got.raw)
			}
		}
	}
	// None of it spent the code or touched the tokens.
	if _, err := h.cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("the code after the error cases: %v", err)
	}
	for _, v := range []string{tok.AccessToken, otherTok.AccessToken} {
		if in := h.introspect(v); in["active"] != true {
			t.Fatalf("a token after the error cases: %v", in)
		}
	}
}
