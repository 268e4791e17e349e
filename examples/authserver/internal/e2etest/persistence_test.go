package e2etest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// A server on a SQLite file issues tokens and stops; a new server on the
// same file accepts the refresh token and rejects the revoked one.
func TestPersistenceAcrossRestart(t *testing.T) {
	d := "sqlite:" + filepath.Join(t.TempDir(), "authserver.db")
	ctx := context.Background()

	store1, close1, err := dsn.Open(ctx, d, dsn.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	h1 := newHarness(t, store1, &app.Clock{}, app.Config{UnsafeAutoApproveAs: app.DemoUserID})
	kept := h1.tokens(h1.cfg)
	revoked := h1.tokens(h1.cfg)
	if s, err := walkthrough.Revoke(h1.ctx, h1.hc, h1.base, h1.cfg.ClientID, h1.cfg.ClientSecret, revoked.RefreshToken, "refresh_token"); err != nil || s != http.StatusOK {
		t.Fatalf("revoke: %d %v", s, err)
	}
	if err := close1(); err != nil {
		t.Fatal(err)
	}

	store2, close2, err := dsn.Open(ctx, d, dsn.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = close2() })
	srv, err := app.New(app.Config{Store: store2})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(srv)
	t.Cleanup(srv2.Close)
	cfg := *h1.cfg // the client registered with the first server
	cfg.Endpoint.TokenURL = srv2.URL + "/token"
	ctx2 := context.WithValue(ctx, oauth2.HTTPClient, h1.hc)

	tok, err := cfg.TokenSource(ctx2, &oauth2.Token{RefreshToken: kept.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh on the restarted server: %v", err)
	}
	if tok.AccessToken == "" || tok.AccessToken == kept.AccessToken {
		t.Fatalf("refresh returned %+v", tok)
	}
	_, err = cfg.TokenSource(ctx2, &oauth2.Token{RefreshToken: revoked.RefreshToken}).Token()
	wantCode(t, "revoked refresh token on the restarted server", err, "invalid_grant")
	in, err := walkthrough.Introspect(ctx2, h1.hc, srv2.URL, h1.rs.ClientID, h1.rs.ClientSecret, tok.AccessToken)
	if err != nil || in["active"] != true {
		t.Fatalf("introspection on the restarted server: %v %v", in, err)
	}
}

// The flows on memstore, as package e2e's test runs them on every backend:
// here so that this package's own tests exercise its code.
func TestRunMemory(t *testing.T) {
	Run(t, func(t *testing.T, now func() time.Time) storage.Storage {
		return memstore.New(memstore.WithClock(now), memstore.WithHasher(secret.ForTests()))
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := memstore.New()
	for name, cfg := range map[string]app.Config{
		"no store": {},
		"unsafe and a login hook": {Store: st, UnsafeAutoApproveAs: app.DemoUserID,
			UserAuthorization: func(http.ResponseWriter, *http.Request) (string, error) { return "", nil }},
	} {
		if _, err := app.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
