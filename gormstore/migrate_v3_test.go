package gormstore

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// The statements of the version-3 store (commit a61e425, queries.go),
// with the default prefix.
const (
	v3InsertClient = v2InsertClient
	v3InsertCode   = "INSERT INTO oauthstore_codes (code_digest, client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms, code_challenge, code_challenge_method, nonce, user_id, grant_id, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)"
	v3InsertToken  = "INSERT INTO oauthstore_tokens (access_digest, refresh_digest, client_id, scope, token_type, user_id, grant_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked, purge_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)"
)

// TestMigrationV3Clients starts from a version-3 database holding clients,
// a code and a token as the version-3 store wrote them, upgrades it to
// version 4 (by New, or by applying 0004 with an external tool and opening
// the store WithoutMigrate), and checks through the store that every
// client reads back as it was, authenticates with its secret, has no
// previous secret, and can be listed by owner, rotated and revoked; and
// that the upgraded schema is a fresh one.
func TestMigrationV3Clients(t *testing.T) {
	for _, how := range []string{"New", "files"} {
		t.Run(how, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) {
				testV3Clients(t, b, how == "files")
			})
		})
	}
}

func testV3Clients(t *testing.T, b backend, external bool) {
	ctx := t.Context()
	dsn := b.openDSN(t)
	applyFiles(t, b.name, dsn, 0, 3)
	db := testenv.OpenGorm(t, string(b.name), dsn)
	hash, err := secret.ForTests().Hash("legacy-secret")
	if err != nil {
		t.Fatal(err)
	}
	issued := epoch.Add(-time.Minute)
	owner := strings.Repeat("é", 127) // 254 bytes: the longest user IDs must fit the new column
	exec := func(q string, args ...any) {
		t.Helper()
		if err := db.Exec(q, args...).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	legacy := map[string]*models.Client{
		"b-confidential": {ClientID: "b-confidential", SecretHash: hash, GrantTypes: []models.GrantType{"authorization_code", "refresh_token"},
			ResponseTypes: []models.ResponseType{"code"}, RedirectURIs: []string{"https://legacy.example/cb"}, Scope: "read write", UserID: owner},
		"a-public": {ClientID: "a-public", RedirectURIs: []string{"https://legacy.example/pub"}, Scope: "read", UserID: owner},
		"c-other":  {ClientID: "c-other", Scope: "read", UserID: "someone-else"},
	}
	for _, c := range legacy {
		grants, responses, uris, err := encodeClientLists(c)
		if err != nil {
			t.Fatal(err)
		}
		exec(v3InsertClient, c.ClientID, c.SecretHash, grants, responses, uris, c.Scope, c.UserID, issued.UnixMilli())
	}
	exec(v3InsertCode, secret.Digest("legacy-code"), "b-confidential", "https://legacy.example/cb", "code", "read",
		issued.UnixMilli(), issued.Add(10*time.Minute).UnixMilli(), "", "", "", "user-1", "grant-1")
	exec(v3InsertToken, secret.Digest("legacy-access"), secret.Digest("legacy-refresh"), "b-confidential", "read", "Bearer", "user-1", "grant-1",
		issued.UnixMilli(), issued.Add(time.Hour).UnixMilli(), issued.Add(24*time.Hour).UnixMilli(), issued.Add(24*time.Hour).UnixMilli())

	clock := newTestClock()
	var s *Store
	if external {
		applyFiles(t, b.name, dsn, 3, SchemaVersion)
		s = newStore(t, db, clock, WithoutMigrate())
	} else {
		if _, err := New(ctx, db, WithClock(clock.Now), WithoutMigrate()); !errors.Is(err, ErrSchemaVersion) {
			t.Fatalf("New(WithoutMigrate) on version 3 = %v, want ErrSchemaVersion", err)
		}
		s = newStore(t, db, clock)
	}
	if got := versions(t, db, DefaultTablePrefix); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("versions after the upgrade = %v", got)
	}
	fresh := b.open(t)
	newStore(t, fresh, clock)
	if up, want := introspect(t, b.name, db, DefaultTablePrefix), introspect(t, b.name, fresh, DefaultTablePrefix); up != want {
		t.Fatalf("upgraded schema differs from a fresh one:\n%s", diffLines(up, want))
	}

	for id, want := range legacy {
		got, err := s.GetClient(ctx, id)
		if err != nil {
			t.Fatalf("GetClient(%s): %v", id, err)
		}
		if got.ClientID != want.ClientID || got.SecretHash != want.SecretHash || got.Scope != want.Scope || got.UserID != want.UserID ||
			!slices.Equal(got.GrantTypes, want.GrantTypes) || !slices.Equal(got.ResponseTypes, want.ResponseTypes) ||
			!slices.Equal(got.RedirectURIs, want.RedirectURIs) || !got.PreviousSecretValidUntil.IsZero() {
			t.Errorf("client %s after the upgrade = %+v, want %+v", id, got, want)
		}
	}
	if _, err := s.AuthenticateClient(ctx, "b-confidential", "legacy-secret"); err != nil {
		t.Fatalf("AuthenticateClient with the legacy secret: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, "a-public", ""); !errors.Is(err, storage.ErrInvalidSecret) {
		t.Fatalf("AuthenticateClient of the legacy public client = %v, want ErrInvalidSecret", err)
	}
	page, err := s.ListClients(ctx, storage.ClientQuery{UserID: owner})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range page.Clients {
		ids = append(ids, c.ClientID)
	}
	if !slices.Equal(ids, []string{"a-public", "b-confidential"}) || page.Next != "" {
		t.Fatalf("ListClients of the owner = %q (next %q)", ids, page.Next)
	}
	// The legacy secret becomes the previous one.
	if err := s.RotateClientSecret(ctx, "b-confidential", "new-secret", clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"legacy-secret", "new-secret"} {
		if _, err := s.AuthenticateClient(ctx, "b-confidential", sec); err != nil {
			t.Errorf("AuthenticateClient after the rotation: %v", err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clients != 3 || st.Total.LiveCodes != 1 || st.Total.LiveTokens != 1 {
		t.Errorf("Stats after the upgrade = %+v", st)
	}
	if err := s.RevokeClientTokens(ctx, "b-confidential"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTokenByRefresh(ctx, "legacy-refresh"); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("legacy token after RevokeClientTokens: %v, want ErrRevoked", err)
	}
}
