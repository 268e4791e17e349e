package gooauth2_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The constructors return the exported types they build.
var (
	_ func(storage.Storage) *gooauth2.TokenStore  = gooauth2.NewTokenStore
	_ func(storage.Storage) *gooauth2.ClientStore = gooauth2.NewClientStore
)

// goServer is a go-oauth2 server on the adapter, configured as the
// package documentation says, with one confidential client "client-1"
// (secret "s3cret", redirect URI https://app.example/cb) and one public
// client "pub".
func goServer(t *testing.T, withErrorHandler bool) (*server.Server, storage.Storage) {
	t.Helper()
	s, _ := newStore(t)
	ctx := context.Background()
	for _, c := range []*models.Client{
		{ClientID: "client-1", ClientSecret: "s3cret", RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes: []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken}},
		{ClientID: "pub", RedirectURIs: []string{"https://app.example/cb"}},
	} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	m := manage.NewDefaultManager()
	m.MapTokenStorage(gooauth2.NewTokenStore(s))
	m.MapClientStorage(gooauth2.NewClientStore(s))
	m.SetValidateURIHandler(gooauth2.ValidateURI)
	srv := server.NewServer(&server.Config{
		TokenType:                   "Bearer",
		AllowedResponseTypes:        []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:           []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256},
		ForcePKCE:                   true,
	}, m)
	srv.ClientInfoHandler = func(r *http.Request) (string, string, error) {
		if _, _, ok := r.BasicAuth(); ok {
			return server.ClientBasicHandler(r)
		}
		return server.ClientFormHandler(r)
	}
	srv.UserAuthorizationHandler = func(http.ResponseWriter, *http.Request) (string, error) { return "user-1", nil }
	if withErrorHandler {
		srv.ResponseErrorHandler = gooauth2.ResponseErrorHandler(`my "server"`)
	}
	return srv, s
}

// authorizeCode runs an authorization request through srv and returns the
// code from its redirect.
func authorizeCode(t *testing.T, srv *server.Server) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {"client-1"}, "redirect_uri": {"https://app.example/cb"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st"},
	}.Encode(), nil)
	w := httptest.NewRecorder()
	if err := srv.HandleAuthorizeRequest(w, r); err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %q", w.Code, w.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

type tokenResponse struct {
	status    int
	errorCode string
	challenge string
}

func postToken(t *testing.T, srv *server.Server, form url.Values, basic bool) tokenResponse {
	t.Helper()
	if basic {
		form = cloneValues(form)
		form.Del("client_id")
		form.Del("client_secret")
	}
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		r.SetBasicAuth("client-1", "s3cret")
	}
	w := httptest.NewRecorder()
	_ = srv.HandleTokenRequest(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("token response %d %q: %v", w.Code, w.Body.String(), err)
	}
	code, _ := body["error"].(string)
	return tokenResponse{status: w.Code, errorCode: code, challenge: w.Header().Get("WWW-Authenticate")}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// A redirect_uri that is not registered, at the token endpoint, is
// invalid_grant (RFC 6749 5.2), not a server error. The code is not spent:
// go-oauth2 checks the redirect URI before it reads the code.
func TestUnregisteredRedirectURIAtTokenEndpoint(t *testing.T) {
	srv, _ := goServer(t, true)
	code := authorizeCode(t, srv)
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {"client-1"}, "client_secret": {"s3cret"},
	}
	for _, u := range []string{"https://evil.example/cb", "https://app.example/cb/x", "https://app.example/cb https://evil.example/cb"} {
		form.Set("redirect_uri", u)
		for _, basic := range []bool{false, true} {
			got := postToken(t, srv, form, basic)
			if got.status != http.StatusBadRequest || got.errorCode != "invalid_grant" || got.challenge != "" {
				t.Fatalf("redirect_uri %q (basic %v): %+v, want 400 invalid_grant without a challenge", u, basic, got)
			}
		}
	}
	form.Set("redirect_uri", "https://app.example/cb")
	if got := postToken(t, srv, form, true); got.status != http.StatusOK {
		t.Fatalf("the code with its redirect URI: %+v", got)
	}

	// Without the error handler, go-oauth2's own status: the error is
	// invalid_grant all the same, because ValidateURI returns it.
	plain, _ := goServer(t, false)
	code = authorizeCode(t, plain)
	form.Set("code", code)
	form.Set("redirect_uri", "https://evil.example/cb")
	if got := postToken(t, plain, form, false); got.errorCode != "invalid_grant" {
		t.Fatalf("without the error handler: %+v, want invalid_grant", got)
	}
}

// The error handler gives go-oauth2's token endpoint the statuses of RFC
// 6749 5.2, and every 401 a Basic challenge, whether the client sent its
// secret with HTTP Basic or in the body.
func TestResponseErrorHandlerAtTokenEndpoint(t *testing.T) {
	srv, _ := goServer(t, true)
	code := authorizeCode(t, srv)
	exchange := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {"https://app.example/cb"}, "client_id": {"client-1"}, "client_secret": {"s3cret"},
	}
	with := func(kv ...string) url.Values {
		v := cloneValues(exchange)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	const challengeWant = `Basic realm="my \"server\""`
	for _, c := range []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		code   string
	}{
		{"wrong secret in the body", with("client_secret", "wrong"), false, 401, "invalid_client"},
		{"unknown client", with("client_id", "nobody"), false, 401, "invalid_client"},
		{"no client authentication", with("client_id", "", "client_secret", ""), false, 401, "invalid_client"},
		{"unknown code", with("code", "nope"), true, 400, "invalid_grant"},
		{"wrong verifier", with("code_verifier", strings.Repeat("a", 43)), true, 400, "invalid_grant"},
		{"no grant_type", with("grant_type", ""), true, 400, "unsupported_grant_type"},
		{"grant type not allowed", with("grant_type", "client_credentials"), true, 400, "unauthorized_client"},
		{"no code_verifier", with("code_verifier", ""), true, 400, "invalid_request"},
	} {
		got := postToken(t, srv, c.form, c.basic)
		if got.status != c.status || got.errorCode != c.code {
			t.Errorf("%s: %+v, want %d %s", c.name, got, c.status, c.code)
		}
		if (got.status == 401) != (got.challenge == challengeWant) {
			t.Errorf("%s: status %d with WWW-Authenticate %q", c.name, got.status, got.challenge)
		}
	}
	// The wrong secret over HTTP Basic.
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(with("client_id", "", "client_secret", "").Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("client-1", "wrong")
	w := httptest.NewRecorder()
	_ = srv.HandleTokenRequest(w, r)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != challengeWant || !strings.Contains(w.Body.String(), `"invalid_client"`) {
		t.Fatalf("wrong secret over HTTP Basic: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
}

func TestResponseErrorHandler(t *testing.T) {
	h := gooauth2.ResponseErrorHandler("r")
	for err, want := range map[error]int{
		oerrors.ErrInvalidRequest:          400,
		oerrors.ErrCodeChallengeRquired:    400,
		oerrors.ErrInvalidClient:           401,
		oerrors.ErrInvalidGrant:            400,
		oerrors.ErrUnauthorizedClient:      400,
		oerrors.ErrUnsupportedGrantType:    400,
		oerrors.ErrInvalidScope:            400,
		oerrors.ErrUnsupportedResponseType: 400,
		oerrors.ErrAccessDenied:            403,
		oerrors.ErrServerError:             500,
		oerrors.ErrTemporarilyUnavailable:  503,
	} {
		re := &oerrors.Response{Error: err, StatusCode: oerrors.StatusCodes[err]}
		h(re)
		if re.StatusCode != want {
			t.Errorf("%v: status %d, want %d", err, re.StatusCode, want)
		}
		if got := re.Header.Get("WWW-Authenticate"); (want == 401) != (got == `Basic realm="r"`) {
			t.Errorf("%v: WWW-Authenticate %q", err, got)
		}
	}
	// A 401 of an InternalErrorHandler gets the challenge; one it set is kept.
	re := &oerrors.Response{Error: oerrors.New("custom"), StatusCode: 401}
	h(re)
	if re.Header.Get("WWW-Authenticate") != `Basic realm="r"` {
		t.Errorf("custom 401: %v", re.Header)
	}
	re = &oerrors.Response{Error: oerrors.New("custom"), StatusCode: 401}
	re.SetHeader("WWW-Authenticate", `Bearer realm="x"`)
	h(re)
	if re.Header.Get("WWW-Authenticate") != `Bearer realm="x"` {
		t.Errorf("custom 401 with its own challenge: %v", re.Header)
	}
	h(nil)
}

// fixedClients is a store whose GetClient returns given clients as they
// are, skipping registration's validation: it shows what the adapter does
// with redirect URIs a store already holds.
type fixedClients struct {
	storage.Storage
	clients map[string]*models.Client
}

func (f fixedClients) GetClient(_ context.Context, id string) (*models.Client, error) {
	if c, ok := f.clients[id]; ok {
		return c.Clone(), nil
	}
	return nil, storage.ErrNotFound
}

func domainOf(t *testing.T, uris ...string) string {
	t.Helper()
	cs := gooauth2.NewClientStore(fixedClients{clients: map[string]*models.Client{"c": {ClientID: "c", RedirectURIs: uris}}})
	ci, err := cs.GetByID(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	return ci.GetDomain()
}

// A registered URI is never split, whatever it contains: GetDomain does not
// join URIs with a separator.
func TestRedirectURIsNeverSplit(t *testing.T) {
	type check struct {
		uri string
		ok  bool
	}
	for _, c := range []struct {
		name   string
		uris   []string
		checks []check
	}{
		{"one URI with a space", []string{"https://a.example/cb https://evil.example/cb"}, []check{
			{"https://a.example/cb https://evil.example/cb", true},
			{"https://evil.example/cb", false}, {"https://a.example/cb", false},
		}},
		{"several, one with a space", []string{"https://b.example/cb", "https://a.example/cb https://evil.example/cb"}, []check{
			{"https://b.example/cb", true}, {"https://a.example/cb https://evil.example/cb", true},
			{"https://evil.example/cb", false}, {"https://a.example/cb", false},
			{"https://b.example/cb https://a.example/cb", false},
		}},
		{"several", []string{"https://a.example/cb", "https://a.example/cb2"}, []check{
			{"https://a.example/cb", true}, {"https://a.example/cb2", true},
			{"https://a.example/cb https://a.example/cb2", false}, {"", false},
			{`["https://a.example/cb","https://a.example/cb2"]`, false},
		}},
		{"one URI that looks like an encoded list", []string{"\x00oauthstore-redirect-uris:[\"https://evil.example/cb\"]"}, []check{
			{"https://evil.example/cb", false}, {"\x00oauthstore-redirect-uris:[\"https://evil.example/cb\"]", true},
		}},
		{"none", nil, []check{{"", false}, {"https://a.example/cb", false}}},
	} {
		d := domainOf(t, c.uris...)
		for _, k := range c.checks {
			for name, validate := range map[string]func(string, string) error{"ValidateURI": gooauth2.ValidateURI, "ValidateURILoopback": gooauth2.ValidateURILoopback} {
				err := validate(d, k.uri)
				if (err == nil) != k.ok {
					t.Errorf("%s: %s(%q) = %v, want ok=%v", c.name, name, k.uri, err, k.ok)
				}
				if err != nil && err != oerrors.ErrInvalidGrant {
					t.Errorf("%s: %s(%q) = %v, want ErrInvalidGrant", c.name, name, k.uri, err)
				}
			}
		}
	}
	// One URI: GetDomain is that URI, go-oauth2's default redirect.
	if d := domainOf(t, "https://a.example/cb"); d != "https://a.example/cb" {
		t.Errorf("GetDomain of one URI = %q", d)
	}
	// Several: GetDomain is no URL, so go-oauth2 cannot redirect to it.
	if _, err := url.Parse(domainOf(t, "https://a.example/cb", "https://a.example/cb2")); err == nil {
		t.Error("GetDomain of several URIs parses as a URL")
	}
}

// go-oauth2 redirects an authorization request without redirect_uri to
// GetDomain: with several registered URIs there is nowhere to go, and no
// redirect happens.
func TestNoDefaultRedirectWithSeveralURIs(t *testing.T) {
	srv, s := goServer(t, true)
	if err := s.CreateClient(context.Background(), &models.Client{ClientID: "two", RedirectURIs: []string{"https://app.example/cb", "https://app.example/cb2"}}); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {"two"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode(), nil)
	w := httptest.NewRecorder()
	err := srv.HandleAuthorizeRequest(w, r)
	if err == nil || w.Header().Get("Location") != "" || w.Code == http.StatusFound {
		t.Fatalf("authorization without redirect_uri for a client with two: err %v, status %d, Location %q", err, w.Code, w.Header().Get("Location"))
	}
}

func TestValidateURILoopback(t *testing.T) {
	d := domainOf(t, "http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "https://app.example:8443/cb", "http://localhost:8080/cb", "com.example.app:/oauth")
	for _, c := range []struct {
		uri      string
		loopback bool // ValidateURILoopback accepts it
		exact    bool // ValidateURI accepts it
	}{
		{"http://127.0.0.1/cb", true, true},
		{"http://127.0.0.1:51234/cb", true, false},
		{"http://127.0.0.1:80/cb", true, false},
		{"http://[::1]/cb?x=1", true, false},
		{"http://[::1]:8080/cb?x=1", true, true},
		{"http://[::1]:9999/cb?x=1", true, false},
		{"http://[::1]:9999/cb", false, false},
		{"http://127.0.0.1:51234/cb2", false, false},
		{"http://127.0.0.1:51234/cb?y=2", false, false},
		{"https://127.0.0.1:51234/cb", false, false},
		{"http://127.0.0.1:51234@evil.example/cb", false, false},
		{"http://127.0.0.1.evil.example:51234/cb", false, false},
		{"http://localhost:8080/cb", true, true},
		{"http://localhost:9999/cb", false, false},
		{"https://app.example:8443/cb", true, true},
		{"https://app.example:9999/cb", false, false},
		{"com.example.app:/oauth", true, true},
		{"", false, false},
	} {
		if err := gooauth2.ValidateURILoopback(d, c.uri); (err == nil) != c.loopback {
			t.Errorf("ValidateURILoopback(%q) = %v, want ok=%v", c.uri, err, c.loopback)
		}
		if err := gooauth2.ValidateURI(d, c.uri); (err == nil) != c.exact {
			t.Errorf("ValidateURI(%q) = %v, want ok=%v", c.uri, err, c.exact)
		}
	}
}

// VerifyPassword does not use the context of the GetByID call that read the
// client (Client keeps no context): a secret checked after that context
// ended is still checked.
func TestVerifyPasswordOwnContext(t *testing.T) {
	s, _ := newStore(t)
	if err := s.CreateClient(context.Background(), &models.Client{ClientID: "c", ClientSecret: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ci, err := gooauth2.NewClientStore(s).GetByID(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	v := ci.(oauth2.ClientPasswordVerifier)
	if !v.VerifyPassword("s3cret") || v.VerifyPassword("wrong") {
		t.Fatal("VerifyPassword after the lookup's context ended")
	}
	ctxType := reflect.TypeFor[context.Context]()
	typ := reflect.TypeFor[gooauth2.Client]()
	for i := range typ.NumField() {
		if typ.Field(i).Type == ctxType {
			t.Fatalf("Client keeps a context.Context in field %s", typ.Field(i).Name)
		}
	}
}

// A malformed PKCE challenge go-oauth2 lets through (it checks only the
// length) is invalid_request, not a store error answered with
// server_error.
func TestMalformedCodeChallenge(t *testing.T) {
	s, _ := newStore(t)
	ts := gooauth2.NewTokenStore(s)
	for _, c := range []struct {
		challenge string
		method    oauth2.CodeChallengeMethod
	}{
		{strings.Repeat("a", 50), oauth2.CodeChallengeS256},
		{challenge[:42] + "B", oauth2.CodeChallengeS256}, // 43 characters, not a SHA-256
		{strings.Repeat("a", 43) + "!", oauth2.CodeChallengePlain},
	} {
		info := codeInfo("code-" + c.challenge)
		info.SetCodeChallenge(c.challenge)
		info.SetCodeChallengeMethod(c.method)
		if err := ts.Create(context.Background(), info); err != oerrors.ErrInvalidRequest {
			t.Errorf("challenge %q (%s): %v, want ErrInvalidRequest", c.challenge, c.method, err)
		}
	}

	// Through go-oauth2's server: an error redirect, invalid_request.
	srv, _ := goServer(t, true)
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {"client-1"}, "redirect_uri": {"https://app.example/cb"},
		"code_challenge": {strings.Repeat("a", 50)}, "code_challenge_method": {"S256"},
	}.Encode(), nil)
	w := httptest.NewRecorder()
	_ = srv.HandleAuthorizeRequest(w, r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorize with a malformed challenge: %d %q", w.Code, w.Header().Get("Location"))
	}
}
