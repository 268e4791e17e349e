package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// openDirect opens the test's own store on the DSN, on the test clock.
func openDirect(t *testing.T, d string) storage.Storage {
	t.Helper()
	s, closeFn, err := dsn.Open(context.Background(), d, dsn.WithClock(testClock), dsn.WithHasher(secret.ForTests()))
	if err != nil {
		t.Fatalf("opening %s: %v", dsn.Redact(d), err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	})
	return s
}

type statusJSON struct {
	Backend   string `json:"backend"`
	Installed *int   `json:"installed_version"`
	Binary    int    `json:"binary_version"`
	UpToDate  bool   `json:"up_to_date"`
	Previous  *int   `json:"previous_version"`
}

type secretJSON struct {
	Client       clientView `json:"client"`
	ClientSecret string     `json:"client_secret"`
}

// Every command against every backend, through the cobra root, as an
// operator runs them.
func TestCommands(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testCommands(t, b) })
	}
}

func testCommands(t *testing.T, b backend) {
	ctx := context.Background()
	d := b.dsn(t)
	// with runs a command on the backend; its outputs never contain a
	// secret, code or token of the test (checked at the end).
	var outputs []string
	with := func(code int, args ...string) result {
		t.Helper()
		r := want(t, cli(t, "", append(args, "--dsn", d)...), code, args...)
		outputs = append(outputs, r.stdout+r.stderr)
		return r
	}
	withStdin := func(code int, stdin string, args ...string) result {
		t.Helper()
		r := want(t, cli(t, stdin, append(args, "--dsn", d)...), code, args...)
		outputs = append(outputs, r.stdout+r.stderr)
		return r
	}
	sql := b.name != "ferretdb"

	// migrate: status before and after up.
	var st statusJSON
	decode(t, with(0, "migrate", "status", "--json"), &st)
	if sql && (st.Installed == nil || *st.Installed != 0 || st.UpToDate || st.Binary != gormstore.SchemaVersion) {
		t.Fatalf("status of an empty database: %+v", st)
	}
	if !sql && st.Installed != nil {
		t.Fatalf("MongoDB status: %+v", st)
	}
	r := with(0, "migrate", "status")
	if sql && !strings.Contains(r.stdout, "migration pending") {
		t.Errorf("status:\n%s", r.stdout)
	}
	decode(t, with(0, "migrate", "up", "--json"), &st)
	if !st.UpToDate || sql && (*st.Installed != gormstore.SchemaVersion || *st.Previous != 0) {
		t.Fatalf("after migrate up: %+v", st)
	}
	r = with(0, "migrate", "up")
	if sql && (!strings.Contains(r.stdout, "up to date") || !strings.Contains(r.stdout, fmt.Sprintf("Previous version:   %d", gormstore.SchemaVersion))) {
		t.Errorf("migrate up again:\n%s", r.stdout)
	}
	decode(t, with(0, "migrate", "status", "--json"), &st)
	if !st.UpToDate {
		t.Fatalf("status after up: %+v", st)
	}

	direct := openDirect(t, d)

	// client create: the secret is printed once and only its hash stored.
	var created secretJSON
	decode(t, with(0, "client", "create", "--id", "web", "--redirect-uri", "https://app.example/cb",
		"--redirect-uri", "https://app.example/cb2", "--scope", "read write", "--owner", "alice", "--json"), &created)
	webSecret := created.ClientSecret
	if len(webSecret) != 43 || created.Client.ClientID != "web" || created.Client.Public || created.Client.Secret != "set" ||
		strings.Join(created.Client.GrantTypes, ",") != "authorization_code,refresh_token" ||
		strings.Join(created.Client.ResponseTypes, ",") != "code" || len(created.Client.RedirectURIs) != 2 ||
		created.Client.Owner != "alice" || created.Client.Scope != "read write" {
		t.Fatalf("created: %+v (secret of %d bytes)", created.Client, len(webSecret))
	}
	if _, err := direct.AuthenticateClient(ctx, "web", webSecret); err != nil {
		t.Fatalf("the printed secret does not authenticate: %v", err)
	}
	r = with(0, "client", "create", "--redirect-uri", "https://x.example/cb", "--grant", "client_credentials", "--grant", "refresh_token")
	if !strings.Contains(r.stdout, "Created confidential client \"client-") || !strings.Contains(r.stdout, secretNotice) {
		t.Errorf("create with a random ID:\n%s", r.stdout)
	}
	r = with(0, "client", "create", "--id", "spa", "--public", "--redirect-uri", "http://127.0.0.1/cb", "--owner", "bob")
	if !strings.Contains(r.stdout, `Created public client "spa".`) || strings.Contains(r.stdout, "secret") {
		t.Errorf("create public:\n%s", r.stdout)
	}
	// A taken ID and an invalid registration are exit 4; nothing written.
	with(exitConflict, "client", "create", "--id", "web", "--redirect-uri", "https://app.example/cb")
	with(exitConflict, "client", "create", "--id", "bad", "--grant", "nosuch")
	with(exitNotFound, "client", "show", "bad")

	// show: never the secret, nor its hash.
	r = with(0, "client", "show", "web")
	for _, s := range []string{"Client ID:", "web", "confidential", "Secret:           set", "Previous secret:  none", "https://app.example/cb, https://app.example/cb2", "read write", "alice"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("show lacks %q:\n%s", s, r.stdout)
		}
	}
	stored, err := direct.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.stdout, stored.SecretHash) {
		t.Error("show prints the secret hash")
	}
	with(exitNotFound, "client", "show", "nosuch")

	// list: pages, owner filter, --all.
	var page struct {
		Clients []clientView `json:"clients"`
		Next    string       `json:"next"`
	}
	decode(t, with(0, "client", "list", "--json"), &page)
	if len(page.Clients) != 3 || page.Next != "" || page.Clients[1].ClientID != "spa" || page.Clients[2].ClientID != "web" {
		t.Fatalf("list: %+v", page)
	}
	decode(t, with(0, "client", "list", "--limit", "1", "--json"), &page)
	if len(page.Clients) != 1 || page.Next == "" {
		t.Fatalf("list --limit 1: %+v", page)
	}
	r = with(0, "client", "list", "--limit", "1", "--after", page.Next)
	if !strings.Contains(r.stdout, "spa") || !strings.Contains(r.stderr, "More clients follow: --after spa") {
		t.Errorf("second page:\n%s", r)
	}
	decode(t, with(0, "client", "list", "--limit", "1", "--all", "--json"), &page)
	if len(page.Clients) != 3 || page.Next != "" {
		t.Errorf("list --all: %+v", page)
	}
	decode(t, with(0, "client", "list", "--owner", "bob", "--json"), &page)
	if len(page.Clients) != 1 || page.Clients[0].ClientID != "spa" || !page.Clients[0].Public {
		t.Errorf("list --owner bob: %+v", page)
	}
	r = with(0, "client", "list")
	if !strings.HasPrefix(r.stdout, "CLIENT ID") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("list table:\n%s", r.stdout)
	}

	// update: only the fields given; its secret stays.
	var upd clientView
	decode(t, with(0, "client", "update", "web", "--scope", "read", "--redirect-uri", "https://new.example/cb", "--json"), &upd)
	if upd.Scope != "read" || len(upd.RedirectURIs) != 1 || upd.Owner != "alice" || upd.Secret != "set" || len(upd.GrantTypes) != 2 {
		t.Errorf("update: %+v", upd)
	}
	if _, err := direct.AuthenticateClient(ctx, "web", webSecret); err != nil {
		t.Errorf("the secret after update: %v", err)
	}
	with(exitNotFound, "client", "update", "nosuch", "--scope", "x")
	with(exitConflict, "client", "update", "web", "--grant", "nosuch")

	// rotate-secret with an overlap: both secrets work until its end.
	var rot secretJSON
	decode(t, with(0, "client", "rotate-secret", "web", "--overlap", "24h", "--json"), &rot)
	if len(rot.ClientSecret) != 43 || rot.ClientSecret == webSecret || rot.Client.PreviousSecretValidUntil == nil ||
		!rot.Client.PreviousSecretValidUntil.Equal(testNow.Add(24*time.Hour)) {
		t.Fatalf("rotate-secret: %+v", rot.Client)
	}
	rotSecret := rot.ClientSecret
	for _, sec := range []string{webSecret, rotSecret} {
		if _, err := direct.AuthenticateClient(ctx, "web", sec); err != nil {
			t.Errorf("a secret within the overlap: %v", err)
		}
	}
	r = with(0, "client", "show", "web")
	if !strings.Contains(r.stdout, "valid until 2031-05-07T07:08:09Z") {
		t.Errorf("show after rotation:\n%s", r.stdout)
	}
	r = with(0, "client", "rotate-secret", "web")
	newSecret := strings.TrimSpace(strings.SplitAfter(r.stdout, secretNotice)[1])
	newSecret, _, _ = strings.Cut(newSecret, "\n")
	if !strings.Contains(r.stdout, "no longer works") || len(newSecret) != 43 {
		t.Fatalf("rotate-secret without overlap:\n%s", r.stdout)
	}
	if _, err := direct.AuthenticateClient(ctx, "web", rotSecret); !errors.Is(err, storage.ErrInvalidSecret) {
		t.Errorf("the replaced secret without overlap: %v", err)
	}
	if _, err := direct.AuthenticateClient(ctx, "web", newSecret); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	with(exitNotFound, "client", "rotate-secret", "nosuch")
	// A public client becomes confidential, and back.
	decode(t, with(0, "client", "rotate-secret", "spa", "--json"), &rot)
	if rot.Client.Public || rot.Client.Secret != "set" {
		t.Errorf("public client after rotate-secret: %+v", rot.Client)
	}
	spaSecret := rot.ClientSecret
	decode(t, with(0, "client", "update", "spa", "--public", "--json"), &upd)
	if !upd.Public || upd.Secret != "none" {
		t.Errorf("update --public: %+v", upd)
	}
	if _, err := direct.AuthenticateClient(ctx, "spa", spaSecret); !errors.Is(err, storage.ErrInvalidSecret) {
		t.Errorf("a public client's old secret: %v", err)
	}

	// Codes and tokens, made by the server (here the test's own store).
	tok := func(access, refresh, client, grant string, issued time.Time) *models.Token {
		tk := &models.Token{AccessToken: access, ClientID: client, GrantID: grant, IssuedAt: issued, ExpiresIn: time.Hour}
		if refresh != "" {
			tk.RefreshToken, tk.RefreshTokenExpiresIn = refresh, 2*time.Hour
		}
		if err := direct.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	secrets := []string{webSecret, rotSecret, newSecret, spaSecret}
	liveAccess := "access-live-" + b.name
	tok(liveAccess, "refresh-live-"+b.name, "web", "grant-1", testNow)
	tok("access-other-"+b.name, "", "web", "grant-2", testNow)
	tok("access-spa-"+b.name, "refresh-spa-"+b.name, "spa", "grant-3", testNow)
	tok("access-expired-"+b.name, "", "spa", "grant-4", testNow.Add(-2*time.Hour))
	code := &models.AuthorizationCode{Code: "code-" + b.name, ClientID: "web", GrantID: "grant-5", RedirectURI: "https://new.example/cb", AuthTime: testNow, ExpiresIn: time.Minute}
	if err := direct.CreateAuthorizationCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, liveAccess, "refresh-live-"+b.name, "access-other-"+b.name, "access-spa-"+b.name, "refresh-spa-"+b.name, code.Code, "no-such-token-"+b.name)

	type statsOut struct {
		Clients  int64        `json:"clients"`
		Total    countsJSON   `json:"total"`
		ByClient []countsJSON `json:"by_client"`
	}
	var stats statsOut
	decode(t, with(0, "stats", "--json"), &stats)
	wantTotal := countsJSON{LiveCodes: 1, LiveTokens: 3, ExpiredTokens: 1}
	if stats.Clients != 3 || stats.Total != wantTotal || len(stats.ByClient) != 2 ||
		stats.ByClient[0] != (countsJSON{ClientID: "spa", LiveTokens: 1, ExpiredTokens: 1}) ||
		stats.ByClient[1] != (countsJSON{ClientID: "web", LiveCodes: 1, LiveTokens: 2}) {
		t.Errorf("stats: %+v", stats)
	}

	// revoke token, from stdin: the pair stops working.
	r = withStdin(0, liveAccess+"\n", "revoke", "token", "--stdin")
	if !strings.Contains(r.stdout, "Revoked the token pair.") {
		t.Errorf("revoke token:\n%s", r.stdout)
	}
	if _, err := direct.GetTokenByRefresh(ctx, "refresh-live-"+b.name); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("the revoked pair's refresh token: %v", err)
	}
	withStdin(exitNotFound, "no-such-token-"+b.name+"\n", "revoke", "token", "--stdin")
	withStdin(exitUsage, "", "revoke", "token", "--stdin")
	with(0, "revoke", "token", "access-other-"+b.name) // as an argument, for scripts
	// revoke grant, revoke client.
	with(0, "revoke", "grant", "grant-3")
	if _, err := direct.GetTokenByAccess(ctx, "access-spa-"+b.name); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("a token of the revoked grant: %v", err)
	}
	with(exitNotFound, "revoke", "grant", "no-such-grant")
	with(0, "revoke", "client", "web", "--json")
	if _, err := direct.ConsumeAuthorizationCode(ctx, code.Code); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("the code of a revoked client: %v", err)
	}
	with(exitNotFound, "revoke", "client", "no-such-client")

	r = with(0, "stats")
	for _, s := range []string{"Clients: 3", "CLIENT ID", "REVOKED TOKENS", "spa", "web", "TOTAL"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stats lacks %q:\n%s", s, r.stdout)
		}
	}
	decode(t, with(0, "stats", "--json"), &stats)
	wantTotal = countsJSON{UsedCodes: 1, RevokedTokens: 3, ExpiredTokens: 1}
	if stats.Total != wantTotal {
		t.Errorf("stats after revocations: %+v", stats.Total)
	}

	// purge: the expired token goes; revoked ones stay until they expire.
	r = with(0, "purge")
	if r.stdout != "Purged 1 expired records.\n" {
		t.Errorf("purge: %q", r.stdout)
	}
	var purged struct{ Purged int64 }
	decode(t, with(0, "purge", "--json"), &purged)
	if purged.Purged != 0 {
		t.Errorf("purge again: %+v", purged)
	}

	// delete: the client and everything it holds.
	with(0, "client", "delete", "web")
	with(exitNotFound, "client", "show", "web")
	with(exitNotFound, "client", "delete", "web")
	if _, err := direct.GetTokenByAccess(ctx, liveAccess); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a deleted client's token: %v", err)
	}

	// No output but create's and rotate-secret's own shows a secret, code
	// or token.
	printed := 0
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				printed++
			}
		}
	}
	// Each of the 4 generated secrets is printed exactly once.
	if printed != 4 {
		t.Errorf("secrets, codes or tokens appear %d times in the outputs, want 4 (each generated secret once)", printed)
	}
}
