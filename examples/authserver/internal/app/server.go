package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// The demo user. With [Config.UnsafeAutoApproveAs] set to DemoUserID (the
// command's -unsafe-auto-approve), /authorize signs this user in and
// approves every request, and the password grant accepts this user name and
// password. Without it neither happens.
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

// Realm is the realm of the server's WWW-Authenticate challenges.
const Realm = "oauthstore example"

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

// UserAuthorizationFunc signs the resource owner in at /authorize and
// returns the user ID that approved the request (go-oauth2's
// UserAuthorizationHandler). If the user is not signed in yet it writes a
// response of its own (a login page, a redirect to one) and returns "" and
// no error; an error refuses the request (access_denied for
// [oerrors.ErrAccessDenied]).
type UserAuthorizationFunc func(w http.ResponseWriter, r *http.Request) (userID string, err error)

// Config configures [New].
type Config struct {
	// Store keeps clients, codes and tokens. Required.
	Store storage.Storage
	// Logger receives server errors; nil discards them. Errors from the
	// store never contain a secret, code or token.
	Logger *slog.Logger
	// Lifetimes; zero means the Default... constant.
	CodeLifetime, AccessLifetime, RefreshLifetime time.Duration

	// UserAuthorization signs users in at /authorize: where a real server
	// plugs in its login and consent. Nil, and without
	// UnsafeAutoApproveAs, every authorization request is refused with
	// access_denied: the example has no login page.
	UserAuthorization UserAuthorizationFunc

	// UnsafeAutoApproveAs, if not empty, turns the server into an unsafe
	// demo: /authorize signs in the user with this ID and approves every
	// valid request, without asking anyone, and the password grant issues
	// that user's tokens to any confidential client that sends the
	// hard-coded [DemoUsername] and [DemoPassword]. Anyone who can reach the
	// server gets tokens for that user. For the walkthrough and local
	// trials only; it cannot be combined with UserAuthorization.
	UnsafeAutoApproveAs string
}

// Server is the example authorization server: go-oauth2's manager and
// server on an oauthstore [storage.Storage] through [gooauth2], plus
// revocation, introspection and a protected /userinfo. It is an
// [http.Handler].
type Server struct {
	store    storage.Storage
	log      *slog.Logger
	manager  *manage.Manager
	oauth    *server.Server
	mux      *http.ServeMux
	demoUser string // Config.UnsafeAutoApproveAs
	grants   []oauth2.GrantType
}

// New returns a server on cfg.Store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("app: Config.Store is nil")
	}
	if cfg.UnsafeAutoApproveAs != "" && cfg.UserAuthorization != nil {
		return nil, errors.New("app: Config.UnsafeAutoApproveAs and Config.UserAuthorization exclude each other")
	}
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
	s := &Server{store: cfg.Store, log: cfg.Logger, demoUser: cfg.UnsafeAutoApproveAs}

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

	s.grants = []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing, oauth2.ClientCredentials}
	if s.demoUser != "" {
		s.grants = append(s.grants, oauth2.PasswordCredentials)
	}
	srv := server.NewServer(&server.Config{
		TokenType:            models.DefaultTokenType,
		AllowedResponseTypes: []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:    s.grants,
		// S256 only: a plain challenge is the verifier itself, which anyone
		// who sees the authorization request learns (RFC 9700 2.1.1).
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256},
		ForcePKCE:                   true,
	}, m)
	// The server reads every parameter it checks the way go-oauth2 does:
	// through these handlers, or r.FormValue on a request whose parameters
	// are all in the body (readForm).
	srv.ClientInfoHandler = clientCredentials
	srv.RefreshTokenResolveHandler = refreshTokenParam
	srv.AccessTokenResolveHandler = bearerToken
	srv.ClientAuthorizedHandler = s.clientAuthorized
	srv.ClientScopeHandler = s.clientScope
	switch {
	case s.demoUser != "":
		srv.UserAuthorizationHandler = func(http.ResponseWriter, *http.Request) (string, error) {
			return s.demoUser, nil // UNSAFE: signs the demo user in and approves
		}
		srv.PasswordAuthorizationHandler = s.demoPassword
	case cfg.UserAuthorization != nil:
		srv.UserAuthorizationHandler = server.UserAuthorizationHandler(cfg.UserAuthorization)
	default:
		srv.UserAuthorizationHandler = func(http.ResponseWriter, *http.Request) (string, error) {
			return "", oerrors.ErrAccessDenied
		}
	}
	// go-oauth2 lets a refresh request name any scope; allow only a subset
	// of the grant's.
	srv.RefreshingScopeHandler = func(tgr *oauth2.TokenGenerateRequest, oldScope string) (bool, error) {
		granted := models.Client{Scope: oldScope}
		return granted.CheckScope(tgr.Scope), nil
	}
	srv.InternalErrorHandler = s.internalError
	// RFC 6749 5.2 statuses, and a Basic challenge on every 401.
	srv.ResponseErrorHandler = gooauth2.ResponseErrorHandler(Realm)
	s.oauth = srv

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("POST /introspect", s.introspect)
	mux.HandleFunc("GET /userinfo", s.userinfo)
	mux.HandleFunc("POST /userinfo", s.userinfo)
	s.mux = mux
	return s, nil
}

// ServeHTTP implements [http.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Manager returns the go-oauth2 manager, for callers that add to it.
func (s *Server) Manager() *manage.Manager { return s.manager }

// requestError is an OAuth error the server answers itself, with a
// description of its own.
type requestError struct {
	err  error // a go-oauth2 error: oerrors.ErrInvalidRequest, ...
	desc string
}

func (e *requestError) Error() string { return e.err.Error() + ": " + e.desc }

func invalidRequest(format string, args ...any) error {
	return &requestError{err: oerrors.ErrInvalidRequest, desc: fmt.Sprintf(format, args...)}
}

// internalError is go-oauth2's InternalErrorHandler: it answers a
// requestError with its code and description, and logs any other error,
// which go-oauth2 then answers with server_error.
func (s *Server) internalError(err error) *oerrors.Response {
	var re *requestError
	if errors.As(err, &re) {
		return &oerrors.Response{Error: re.err, Description: re.desc, StatusCode: oerrors.StatusCodes[re.err]}
	}
	s.log.Error("oauth2 server error", "err", err)
	return nil
}

// writeError answers a request to /token, /revoke or /introspect with the
// OAuth error response of err (RFC 6749 5.2), as go-oauth2 answers its own:
// same statuses, headers and descriptions.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	data, status, header := s.oauth.GetErrorData(err)
	for k := range header {
		w.Header().Set(k, header.Get(k))
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	authorize := "no login page: every request is refused (access_denied)"
	password := "not offered"
	if s.demoUser != "" {
		authorize = fmt.Sprintf("UNSAFE DEMO: signs in user %q and approves every request", s.demoUser)
		password = fmt.Sprintf("UNSAFE DEMO: user %q, password %q, confidential clients only", DemoUsername, DemoPassword)
	}
	fmt.Fprintf(w, `oauthstore example authorization server (go-oauth2 + oauthstore)

GET  /authorize   authorization code grant with PKCE S256; %s
POST /token       authorization_code, refresh_token, client_credentials; password grant: %s
POST /revoke      RFC 7009 token revocation (client authentication required)
POST /introspect  RFC 7662 token introspection (resource servers: any token; other confidential clients: their own)
GET  /userinfo    protected resource: send Authorization: Bearer <access token>
`, authorize, password)
}

// demoName returns the user name of the demo user, or "".
func (s *Server) demoName(userID string) string {
	if s.demoUser != "" && userID == s.demoUser {
		return DemoUsername
	}
	return ""
}
