// Package e2etest runs the example server's end-to-end flows: the server
// of examples/authserver/internal/app over httptest, driven by
// golang.org/x/oauth2 and raw HTTP, on a store a caller makes. [Run] is
// what examples/authserver/e2e exports to other modules.
package e2etest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// NewStore returns a fresh, empty store whose clock is now (every expiry
// decision of the store must use it: the flows move it forward). The store
// should hash client secrets cheaply (secret.ForTests()) to keep the flows
// fast; it is closed, if it needs to be, through t.Cleanup.
type NewStore func(t *testing.T, now func() time.Time) storage.Storage

// Flow is one end-to-end flow, run on a fresh server and store.
type Flow struct {
	Name string
	run  func(t *testing.T, h *harness)
}

// Flows lists every flow [Run] runs, in order.
func Flows() []Flow { return flows }

// Run runs every flow as a subtest of t, each on a new server over
// httptest on a store from newStore: the authorization code grant with
// PKCE, refresh rotation, concurrent refreshes, a stolen refresh token,
// code replay and concurrent exchanges, revocation, introspection rights,
// expiry on the store's clock, the other grants, the refusal of URL query
// parameters, and the status, body and headers of every error response of
// every endpoint.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	for _, f := range flows {
		t.Run(f.Name, func(t *testing.T) {
			clock := &app.Clock{}
			h := newHarness(t, newStore(t, clock.Now), clock, app.Config{UnsafeAutoApproveAs: app.DemoUserID})
			f.run(t, h)
		})
	}
}

// gatedStore holds back code lookups (or refresh token rotations) once
// armed with n, until n of them have arrived, then lets them all go at
// once: concurrent exchanges (or refreshes) then reach the store together,
// whatever the HTTP and hashing timing.
type gatedStore struct {
	storage.Storage
	mu      sync.Mutex
	kind    gateKind
	waiting int // arrivals still awaited; 0 when disarmed
	release chan struct{}
}

type gateKind int

const (
	gateCodes  gateKind = iota + 1 // GetAuthorizationCode, ConsumeAuthorizationCode
	gateRotate                     // RotateToken
)

func (g *gatedStore) arm(kind gateKind, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kind, g.waiting, g.release = kind, n, make(chan struct{})
}

func (g *gatedStore) gate(kind gateKind) {
	g.mu.Lock()
	if g.waiting == 0 || g.kind != kind {
		g.mu.Unlock()
		return
	}
	g.waiting--
	release := g.release
	if g.waiting == 0 {
		close(release)
	}
	g.mu.Unlock()
	select {
	case <-release:
	case <-time.After(30 * time.Second): // a caller went missing; do not hang
	}
}

func (g *gatedStore) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	g.gate(gateCodes)
	return g.Storage.GetAuthorizationCode(ctx, code)
}

func (g *gatedStore) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	g.gate(gateCodes)
	return g.Storage.ConsumeAuthorizationCode(ctx, code)
}

func (g *gatedStore) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	g.gate(gateRotate)
	return g.Storage.RotateToken(ctx, refreshToken, next)
}

// harness is the server on one store over httptest, an x/oauth2 client
// registered with it (cfg, confidential, scope "read") and a resource
// server (rs) that introspects.
type harness struct {
	t     *testing.T
	ctx   context.Context // carries hc for x/oauth2
	store *gatedStore
	clock *app.Clock
	srv   *app.Server
	base  string
	hc    *http.Client // does not follow redirects
	cfg   *oauth2.Config
	rs    *oauth2.Config
}

const redirectURI = "http://127.0.0.1:9094/callback"

// newHarness starts a server configured by cfg (its Store is set here).
func newHarness(t *testing.T, store storage.Storage, clock *app.Clock, cfg app.Config) *harness {
	t.Helper()
	gs := &gatedStore{Storage: store}
	cfg.Store = gs
	srv, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	hc := &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	h := &harness{
		t: t, store: gs, clock: clock, srv: srv, base: ts.URL, hc: hc,
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, hc),
	}
	h.cfg = h.client(app.ClientOptions{RedirectURIs: []string{redirectURI}})
	h.rs = h.client(app.ClientOptions{ResourceServer: true})
	return h
}

// client registers a client and returns its x/oauth2 configuration.
func (h *harness) client(o app.ClientOptions) *oauth2.Config {
	h.t.Helper()
	id, sec, err := h.srv.CreateClient(context.Background(), o)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := &oauth2.Config{
		ClientID: id, ClientSecret: sec, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{AuthURL: h.base + "/authorize", TokenURL: h.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	if len(o.RedirectURIs) > 0 {
		cfg.RedirectURL = o.RedirectURIs[0]
	}
	return cfg
}

// authorize runs an authorization request with a fresh PKCE S256
// verifier and returns the code and the verifier.
func (h *harness) authorize(cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) (code, verifier string) {
	h.t.Helper()
	verifier = oauth2.GenerateVerifier()
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)
	code, notice, err := walkthrough.Authorize(h.ctx, h.hc, cfg.AuthCodeURL("st4te", opts...), "st4te")
	if err != nil {
		h.t.Fatalf("authorize: %v", err)
	}
	if !strings.Contains(notice, "UNSAFE DEMO") || !strings.Contains(notice, app.DemoUserID) {
		h.t.Fatalf("authorize: the demo notice is missing: %q", notice)
	}
	return code, verifier
}

func (h *harness) tokens(cfg *oauth2.Config) *oauth2.Token {
	h.t.Helper()
	code, verifier := h.authorize(cfg)
	tok, err := cfg.Exchange(h.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		h.t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		h.t.Fatalf("exchange returned %+v", tok)
	}
	return tok
}

// introspect introspects token as the resource server, which may
// introspect every token.
func (h *harness) introspect(token string) map[string]any {
	h.t.Helper()
	return h.introspectAs(h.rs, token)
}

func (h *harness) introspectAs(cfg *oauth2.Config, token string) map[string]any {
	h.t.Helper()
	m, err := walkthrough.Introspect(h.ctx, h.hc, h.base, cfg.ClientID, cfg.ClientSecret, token)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) userinfo(tok *oauth2.Token) int {
	h.t.Helper()
	resp, err := h.cfg.Client(h.ctx, tok).Get(h.base + "/userinfo")
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) refresh(cfg *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return cfg.TokenSource(h.ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := walkthrough.ErrorCode(err); got != code {
		t.Fatalf("%s: got error %v (code %q), want %s", what, err, got, code)
	}
}
