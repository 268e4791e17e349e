package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/oauthstore/oauthstore/integration/gooauth2"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The demo user. The demo has no login page: /authorize signs this user in
// and approves every request, and the password grant accepts only this
// user name and password.
const (
	DemoUserID   = "demo-user"
	DemoUsername = "demo"
	DemoPassword = "demo-password"
)

// Default lifetimes.
const (
	DefaultCodeLifetime    = 10 * time.Minute
	DefaultAccessLifetime  = time.Hour
	DefaultRefreshLifetime = 7 * 24 * time.Hour
)

// DefaultScope is the scope [Server.CreateClient] allows when given none.
const DefaultScope = "profile read write"

// Clock is the server's injectable clock: wall time plus an offset that
// tests and the walkthrough move forward. Give [Clock.Now] to the store so
// that the store's expiry decisions follow it. The zero value is wall time;
// a nil *Clock is too.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the wall time plus the offset.
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Config configures [New].
type Config struct {
	// Store keeps clients, codes and tokens. Required.
	Store storage.Storage
	// Logger receives server errors; nil discards them. Errors from the
	// store never contain a secret, code or token.
	Logger *slog.Logger
	// Lifetimes; zero means the Default... constant.
	CodeLifetime, AccessLifetime, RefreshLifetime time.Duration
}

// Server is the demo authorization server: go-oauth2's manager and server
// on an oauthstore [storage.Storage] through [gooauth2], plus revocation,
// introspection and a protected /userinfo. It is an [http.Handler].
type Server struct {
	store   storage.Storage
	log     *slog.Logger
	manager *manage.Manager
	oauth   *server.Server
	mux     *http.ServeMux
}

// New returns a server on cfg.Store.
func New(cfg Config) *Server {
	if cfg.CodeLifetime == 0 {
		cfg.CodeLifetime = DefaultCodeLifetime
	}
	if cfg.AccessLifetime == 0 {
		cfg.AccessLifetime = DefaultAccessLifetime
	}
	if cfg.RefreshLifetime == 0 {
		cfg.RefreshLifetime = DefaultRefreshLifetime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: cfg.Store, log: cfg.Logger}

	m := manage.NewManager()
	m.MapAuthorizeGenerate(codeGenerate{})
	m.MapAccessGenerate(tokenGenerate{})
	m.MapTokenStorage(gooauth2.NewTokenStore(cfg.Store))
	m.MapClientStorage(gooauth2.NewClientStore(cfg.Store))
	m.SetValidateURIHandler(gooauth2.ValidateURI)
	m.SetAuthorizeCodeExp(cfg.CodeLifetime)
	withRefresh := &manage.Config{AccessTokenExp: cfg.AccessLifetime, RefreshTokenExp: cfg.RefreshLifetime, IsGenerateRefresh: true}
	m.SetAuthorizeCodeTokenCfg(withRefresh)
	m.SetPasswordTokenCfg(withRefresh)
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: cfg.AccessLifetime})
	// Rotation: every refresh issues a new refresh token, and the adapter
	// replaces the old pair with the new one in the store's RotateToken, so
	// a refresh token works once; presenting it again revokes its grant.
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{
		AccessTokenExp:     cfg.AccessLifetime,
		RefreshTokenExp:    cfg.RefreshLifetime,
		IsGenerateRefresh:  true,
		IsResetRefreshTime: true,
		IsRemoveAccess:     true,
		IsRemoveRefreshing: true,
	})
	s.manager = m

	srv := server.NewServer(&server.Config{
		TokenType:            models.DefaultTokenType,
		AllowedResponseTypes: []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes: []oauth2.GrantType{
			oauth2.AuthorizationCode, oauth2.Refreshing, oauth2.ClientCredentials, oauth2.PasswordCredentials,
		},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256, oauth2.CodeChallengePlain},
		ForcePKCE:                   true,
	}, m)
	srv.ClientInfoHandler = clientCredentials
	srv.ClientAuthorizedHandler = s.clientAuthorized
	srv.ClientScopeHandler = s.clientScope
	srv.UserAuthorizationHandler = func(http.ResponseWriter, *http.Request) (string, error) {
		return DemoUserID, nil // the demo signs in its demo user and approves
	}
	srv.PasswordAuthorizationHandler = func(_ context.Context, _, username, password string) (string, error) {
		u := subtle.ConstantTimeCompare([]byte(username), []byte(DemoUsername))
		p := subtle.ConstantTimeCompare([]byte(password), []byte(DemoPassword))
		if u&p == 1 {
			return DemoUserID, nil
		}
		return "", oerrors.ErrInvalidGrant
	}
	// go-oauth2 lets a refresh request name any scope; allow only a subset
	// of the grant's.
	srv.RefreshingScopeHandler = func(tgr *oauth2.TokenGenerateRequest, oldScope string) (bool, error) {
		granted := models.Client{Scope: oldScope}
		return granted.CheckScope(tgr.Scope), nil
	}
	srv.InternalErrorHandler = func(err error) *oerrors.Response {
		s.log.Error("oauth2 server error", "err", err)
		return nil
	}
	s.oauth = srv

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("/authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("POST /introspect", s.introspect)
	mux.HandleFunc("/userinfo", s.userinfo)
	s.mux = mux
	return s
}

// ServeHTTP implements [http.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Manager returns the go-oauth2 manager, for callers that add to it.
func (s *Server) Manager() *manage.Manager { return s.manager }

// ClientOptions describes a client for [Server.CreateClient].
type ClientOptions struct {
	// RedirectURIs are the exact redirect URIs; at least one is needed for
	// the authorization code grant.
	RedirectURIs []string
	// Public makes a client without a secret (PKCE only; it cannot use the
	// client_credentials grant, revoke needs only its ID, introspection is
	// refused to it).
	Public bool
	// Scope is the space-separated scope the client may get; empty means
	// [DefaultScope].
	Scope string
}

// CreateClient registers a client with a random ID and, unless it is
// public, a random secret, and returns both. The secret is returned only
// here: the store keeps a hash of it.
func (s *Server) CreateClient(ctx context.Context, o ClientOptions) (id, secret string, err error) {
	return CreateClient(ctx, s.store, o)
}

// CreateClient is [Server.CreateClient] on a store without a server.
func CreateClient(ctx context.Context, st storage.Storage, o ClientOptions) (id, secret string, err error) {
	id = "client-" + randomString(9)
	if !o.Public {
		secret = randomString(32)
	}
	scope := o.Scope
	if scope == "" {
		scope = DefaultScope
	}
	c := &models.Client{
		ClientID:      id,
		ClientSecret:  secret,
		GrantTypes:    []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken, models.GrantPassword},
		ResponseTypes: []models.ResponseType{models.ResponseTypeCode},
		RedirectURIs:  o.RedirectURIs,
		Scope:         scope,
	}
	if !o.Public {
		c.GrantTypes = append(c.GrantTypes, models.GrantClientCredentials)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// codeGenerate issues authorization codes of 32 random bytes, base64url
// encoded (43 characters).
type codeGenerate struct{}

func (codeGenerate) Token(context.Context, *oauth2.GenerateBasic) (string, error) {
	return randomString(32), nil
}

// tokenGenerate issues access and refresh tokens like codeGenerate.
type tokenGenerate struct{}

func (tokenGenerate) Token(_ context.Context, _ *oauth2.GenerateBasic, isGenRefresh bool) (string, string, error) {
	a, r := randomString(32), ""
	if isGenRefresh {
		r = randomString(32)
	}
	return a, r, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientCredentials reads the client's ID and secret from HTTP Basic
// authentication (RFC 6749 2.3.1, form-encoded) or from the client_id and
// client_secret form fields; a public client sends only client_id.
func clientCredentials(r *http.Request) (string, string, error) {
	if u, p, ok := r.BasicAuth(); ok {
		if r.PostForm.Get("client_secret") != "" {
			return "", "", oerrors.ErrInvalidRequest // two authentication methods
		}
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", oerrors.ErrInvalidClient
		}
		return id, secret, nil
	}
	id := r.PostForm.Get("client_id")
	if id == "" {
		return "", "", oerrors.ErrInvalidClient
	}
	return id, r.PostForm.Get("client_secret"), nil
}

// authenticate authenticates the client of a request to /token, /revoke
// or /introspect: a confidential client by its secret, a public one by its
// ID alone (and no secret).
func (s *Server) authenticate(r *http.Request) (*models.Client, error) {
	id, secret, err := clientCredentials(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetClient(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if c.IsPublic() {
		if secret != "" {
			return nil, oerrors.ErrInvalidClient
		}
		return c, nil
	}
	c, err = s.store.AuthenticateClient(r.Context(), id, secret)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidSecret) {
		return nil, oerrors.ErrInvalidClient
	}
	return c, err
}

func (s *Server) clientAuthorized(clientID string, grant oauth2.GrantType) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.store.GetClient(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, oerrors.ErrInvalidClient
	}
	if err != nil {
		return false, err
	}
	return grant != oauth2.Implicit && c.CheckGrantType(models.GrantType(grant)), nil
}

func (s *Server) clientScope(tgr *oauth2.TokenGenerateRequest) (bool, error) {
	ctx := context.Background()
	if tgr.Request != nil {
		ctx = tgr.Request.Context()
	}
	c, err := s.store.GetClient(ctx, tgr.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, oerrors.ErrInvalidClient
	}
	if err != nil {
		return false, err
	}
	return c.CheckScope(tgr.Scope), nil
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, `oauthstore demo authorization server (go-oauth2 + oauthstore)

GET  /authorize   authorization code grant with PKCE; the DEMO signs in user %q and approves
POST /token       authorization_code, refresh_token, client_credentials, password (user %q)
POST /revoke      RFC 7009 token revocation (client authentication required)
POST /introspect  RFC 7662 token introspection (confidential client authentication required)
GET  /userinfo    protected resource: send Authorization: Bearer <access token>
`, DemoUserID, DemoUsername)
}

// authorize checks the client and redirect URI itself before go-oauth2
// does: go-oauth2 would redirect its errors to the unchecked redirect URI,
// which RFC 6749 4.1.2.1 forbids.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		authorizeError(w, http.StatusBadRequest, "malformed request")
		return
	}
	c, err := s.store.GetClient(r.Context(), r.Form.Get("client_id"))
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.Error("authorize: reading client", "err", err)
			authorizeError(w, http.StatusInternalServerError, "server error")
			return
		}
		authorizeError(w, http.StatusBadRequest, "unknown client_id")
		return
	}
	redirect := r.Form.Get("redirect_uri")
	if redirect == "" && len(c.RedirectURIs) != 1 {
		authorizeError(w, http.StatusBadRequest, "redirect_uri is required: the client has not exactly one registered")
		return
	}
	if redirect != "" && !c.CheckRedirectURI(redirect) {
		authorizeError(w, http.StatusBadRequest, "redirect_uri is not registered for this client (exact match required)")
		return
	}

	cw := &captureWriter{header: http.Header{}}
	err = s.oauth.HandleAuthorizeRequest(cw, r)
	if cw.status == 0 {
		// go-oauth2 rejected the request before it knew where to redirect.
		if err == nil {
			err = oerrors.ErrServerError
		}
		data, status, _ := s.oauth.GetErrorData(err)
		authorizeError(w, status, fmt.Sprintf("%v: %v", data["error"], data["error_description"]))
		return
	}
	for k, v := range cw.header {
		w.Header()[k] = v
	}
	loc := cw.header.Get("Location")
	approved := err == nil && !strings.Contains(loc, "error=")
	notice := fmt.Sprintf("DEMO: signed in as demo user %q and approved client %q automatically (no login page, no consent screen).", DemoUserID, c.ClientID)
	if !approved {
		notice = "DEMO: the authorization request was refused; the error is in the redirect."
	}
	w.Header().Set("X-Demo-Notice", notice)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(cw.status)
	fmt.Fprintf(w, "<!doctype html><title>Demo authorization</title><p>%s</p><p>Redirecting to <a href=\"%s\">%s</a>.</p>\n",
		html.EscapeString(notice), html.EscapeString(loc), html.EscapeString(redirectBase(loc)))
}

// redirectBase shows a redirect location without its query, which holds
// the code.
func redirectBase(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String() + "?…"
}

func authorizeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>Authorization error</title><p>Authorization refused: %s</p>\n", html.EscapeString(msg))
}

// captureWriter records go-oauth2's redirect so that /authorize can add
// the demo notice to it.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
func (c *captureWriter) WriteHeader(status int) { c.status = status }

// token serves the token endpoint through go-oauth2, adding what its
// refresh grant lacks: it authenticates the client and checks that the
// refresh token was issued to it (RFC 6749 6).
//
// A revoked refresh token goes on to go-oauth2 all the same: the adapter
// reads it, reports the reuse to the store, which revokes its grant, and
// go-oauth2 answers invalid_grant. Its owner cannot be checked (the store
// tells nothing about a revoked token), and need not be: a revoked refresh
// token presented again was stolen or its grant is over, whoever sends it.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, oerrors.ErrInvalidRequest)
		return
	}
	if r.PostForm.Get("grant_type") == string(oauth2.Refreshing) {
		c, err := s.authenticate(r)
		if err != nil {
			s.tokenError(w, err)
			return
		}
		if !c.CheckGrantType(models.GrantRefreshToken) {
			s.tokenError(w, oerrors.ErrUnauthorizedClient)
			return
		}
		t, err := s.store.GetTokenByRefresh(r.Context(), r.PostForm.Get("refresh_token"))
		switch {
		case errors.Is(err, storage.ErrRevoked):
			// A reuse: go-oauth2 and the adapter handle it (see above).
		case err == nil && t.ClientID != c.ClientID,
			errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
			s.tokenError(w, oerrors.ErrInvalidGrant)
			return
		case err != nil:
			s.tokenError(w, err)
			return
		}
	}
	if err := s.oauth.HandleTokenRequest(w, r); err != nil {
		s.log.Error("token: writing response", "err", err)
	}
}

func (s *Server) tokenError(w http.ResponseWriter, err error) {
	data, status, header := s.oauth.GetErrorData(err)
	for k := range header {
		w.Header().Set(k, header.Get(k))
	}
	if status == http.StatusUnauthorized && err == oerrors.ErrInvalidClient {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauthstore demo"`)
	}
	writeJSON(w, status, data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// lookup finds the live token that token is the access or refresh token
// of, trying the hinted kind first. isRefresh reports which it was.
func (s *Server) lookup(ctx context.Context, token, hint string) (t *models.Token, isRefresh bool, err error) {
	byAccess := func() (*models.Token, bool, error) {
		t, err := s.store.GetTokenByAccess(ctx, token)
		return t, false, err
	}
	byRefresh := func() (*models.Token, bool, error) {
		t, err := s.store.GetTokenByRefresh(ctx, token)
		return t, true, err
	}
	first, second := byAccess, byRefresh
	if hint == "refresh_token" {
		first, second = byRefresh, byAccess
	}
	t, isRefresh, err = first()
	if errors.Is(err, storage.ErrNotFound) {
		t, isRefresh, err = second()
	}
	return t, isRefresh, err
}

func (s *Server) clientError(w http.ResponseWriter, err error) {
	if errors.Is(err, oerrors.ErrInvalidClient) {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauthstore demo"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if errors.Is(err, oerrors.ErrInvalidRequest) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	s.log.Error("client authentication", "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
}

// tokenRequest reads what revocation (RFC 7009) and introspection
// (RFC 7662) requests share: the form, the authenticated client (a
// confidential one if confidentialOnly) and the token parameter. On failure
// it writes the error response and ok is false.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, confidentialOnly bool) (c *models.Client, token string, ok bool) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return nil, "", false
	}
	c, err := s.authenticate(r)
	if err == nil && confidentialOnly && c.IsPublic() {
		err = oerrors.ErrInvalidClient
	}
	if err != nil {
		s.clientError(w, err)
		return nil, "", false
	}
	token = r.PostForm.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return nil, "", false
	}
	return c, token, true
}

// revoke is the RFC 7009 revocation endpoint. The client authenticates; a
// token it was issued is revoked with its pair; a token of another client,
// or an unknown, expired or revoked one, is left alone, and the answer is
// 200 all the same (RFC 7009 2.2).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r, false)
	if !ok {
		return
	}
	t, _, err := s.lookup(r.Context(), token, r.PostForm.Get("token_type_hint"))
	switch {
	case err == nil && t.ClientID == c.ClientID:
		if err := s.store.RevokeToken(r.Context(), token); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Error("revoke", "client", c.ClientID, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
			return
		}
	case err == nil:
		s.log.Warn("revoke: token of another client left alone", "client", c.ClientID, "owner", t.ClientID)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrExpired):
		// Nothing usable to revoke.
	default:
		s.log.Error("revoke: lookup", "client", c.ClientID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspect is the RFC 7662 introspection endpoint. Only confidential
// clients may call it (resource servers are registered as such); any of
// them may introspect any token. Revoked, expired and unknown tokens are
// {"active": false}.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r, true)
	if !ok {
		return
	}
	t, isRefresh, err := s.lookup(r.Context(), token, r.PostForm.Get("token_type_hint"))
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrExpired):
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	case err != nil:
		s.log.Error("introspect: lookup", "client", c.ClientID, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	resp := map[string]any{
		"active":    true,
		"client_id": t.ClientID,
		"iat":       t.IssuedAt.Unix(),
		"exp":       t.ExpiresAt().Unix(),
	}
	if isRefresh {
		resp["exp"] = t.RefreshTokenExpiresAt().Unix()
		resp["token_type"] = "refresh_token"
	} else {
		resp["token_type"] = t.Type()
	}
	if t.Scope != "" {
		resp["scope"] = t.Scope
	}
	if t.UserID != "" {
		resp["sub"] = t.UserID
		if t.UserID == DemoUserID {
			resp["username"] = DemoUsername
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// userinfo is a protected resource: it answers for a valid bearer token,
// checked by go-oauth2's manager through the adapter.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	ti, err := s.oauth.ValidationBearerToken(r)
	if err != nil {
		switch err {
		case oerrors.ErrInvalidAccessToken, oerrors.ErrExpiredAccessToken, oerrors.ErrExpiredRefreshToken:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": err.Error()})
		default:
			s.log.Error("userinfo", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		}
		return
	}
	resp := map[string]any{"client_id": ti.GetClientID(), "scope": ti.GetScope()}
	if uid := ti.GetUserID(); uid != "" {
		resp["sub"] = uid
		if uid == DemoUserID {
			resp["preferred_username"] = DemoUsername
			resp["name"] = "Demo User"
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
