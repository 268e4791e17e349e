package gormstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// The statements of the version-2 store (commit 651248e, queries.go), with
// the default prefix: the rows of a version-2 database are written
// exactly as that store wrote them.
const (
	v2InsertClient = "INSERT INTO oauthstore_clients (client_id, secret_hash, grant_types, response_types, redirect_uris, scope, user_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	v2InsertCode   = "INSERT INTO oauthstore_codes (code_digest, client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms, code_challenge, code_challenge_method, nonce, user_id, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)"
	v2ConsumeCode  = "UPDATE oauthstore_codes SET used = TRUE, used_at_ms = ? WHERE code_digest = ? AND used = FALSE AND expires_at_ms >= ?"
	v2InsertToken  = "INSERT INTO oauthstore_tokens (access_digest, refresh_digest, client_id, scope, token_type, user_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked, purge_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)"
	v2RevokeToken  = "UPDATE oauthstore_tokens SET revoked = TRUE, revoked_at_ms = ? WHERE (access_digest = ? OR refresh_digest = ?) AND revoked = FALSE"
)

// legacyToken is a token pair the version-2 store held.
type legacyToken struct {
	access, refresh string // refresh empty: access token only
	revoked         bool
}

// legacyData is what writeV2Data stores.
type legacyData struct {
	codes  []string // unused codes
	used   string   // a code the version-2 store consumed
	tokens map[string]legacyToken
}

// writeV2Data fills a version-2 schema with a client, codes and tokens,
// through the version-2 store's own statements and value encodings
// (digests, unix milliseconds, JSON lists).
func writeV2Data(t *testing.T, db *gorm.DB) legacyData {
	t.Helper()
	exec := func(q string, args ...any) {
		t.Helper()
		if err := db.Exec(q, args...).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	hash, err := secret.ForTests().Hash("legacy-secret")
	if err != nil {
		t.Fatal(err)
	}
	issued := epoch.Add(-time.Minute)
	exec(v2InsertClient, "legacy-client", hash, `["authorization_code","refresh_token"]`, `["code"]`,
		`["https://legacy.example/cb"]`, "read write", "owner-1", issued.UnixMilli())
	d := legacyData{tokens: map[string]legacyToken{}}
	for _, code := range []string{"legacy-code-1", "legacy-code-2", "legacy-code-3"} {
		exec(v2InsertCode, secret.Digest(code), "legacy-client", "https://legacy.example/cb", "code", "read",
			issued.UnixMilli(), issued.Add(10*time.Minute).UnixMilli(), "", "", "nonce-1", "user-1")
		d.codes = append(d.codes, code)
	}
	d.used = d.codes[1]
	d.codes = slices.Delete(d.codes, 1, 2)
	exec(v2ConsumeCode, issued.UnixMilli(), secret.Digest(d.used), issued.UnixMilli())
	for name, tk := range map[string]legacyToken{
		"rotate":  {access: "legacy-access-rotate", refresh: "legacy-refresh-rotate"},
		"revoke":  {access: "legacy-access-revoke", refresh: "legacy-refresh-revoke"},
		"access":  {access: "legacy-access-only"},
		"revoked": {access: "legacy-access-revoked", refresh: "legacy-refresh-revoked", revoked: true},
		"bystand": {access: "legacy-access-bystander", refresh: "legacy-refresh-bystander"},
	} {
		refreshDigest, refreshExp := sql.NullString{}, sql.NullInt64{}
		purge := issued.Add(time.Hour)
		if tk.refresh != "" {
			refreshDigest = sql.NullString{String: secret.Digest(tk.refresh), Valid: true}
			refreshExp = sql.NullInt64{Int64: issued.Add(24 * time.Hour).UnixMilli(), Valid: true}
			purge = issued.Add(24 * time.Hour)
		}
		exec(v2InsertToken, secret.Digest(tk.access), refreshDigest, "legacy-client", "read", "Bearer", "user-1",
			issued.UnixMilli(), issued.Add(time.Hour).UnixMilli(), refreshExp, purge.UnixMilli())
		if tk.revoked {
			d := secret.Digest(tk.access)
			exec(v2RevokeToken, issued.UnixMilli(), d, d)
		}
		d.tokens[name] = tk
	}
	return d
}

// rowsByID returns the rows of the codes and tokens tables as text, keyed
// by table and id.
func rowsByID(t *testing.T, db *gorm.DB, s *Store) map[string]string {
	t.Helper()
	raw, err := dumpTables(t.Context(), db, s.t.codes, s.t.tokens)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		table, id := strings.TrimSuffix(f[0], ":"), ""
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "id="); ok {
				id = v
			}
		}
		if id == "" {
			t.Fatalf("row without id: %s", line)
		}
		out[table+"#"+id] = line
	}
	return out
}

// changedRows returns the keys of the rows that differ between before and
// after, sorted.
func changedRows(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// grantURLSafe reports whether id is a well-formed assigned grant ID: at
// least 22 characters (128 bits in base64url) unreserved in URLs, as the
// conformance suite requires of the ones a store assigns.
func grantURLSafe(id string) bool {
	if len(id) < 22 || len(id) > 255 {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

// TestMigrationV2Grants starts from a version-2 database holding data
// written as the version-2 store wrote it, upgrades it to version 3 (by
// New, or by applying 0003 with an external tool and opening the store
// WithoutMigrate), and checks through the store that every legacy code
// and token has a grant of its own, well-formed and derived from its row
// id, that a legacy refresh token rotates into its grant, and that
// revoking, replaying or reusing within one legacy grant touches no other
// row.
func TestMigrationV2Grants(t *testing.T) {
	for _, how := range []string{"New", "files"} {
		t.Run(how, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) {
				testV2Grants(t, b, how == "files")
			})
		})
	}
}

func testV2Grants(t *testing.T, b backend, external bool) {
	ctx := t.Context()
	dsn := b.openDSN(t)
	applyFiles(t, b.name, dsn, 0, 2)
	db := testenv.OpenGorm(t, string(b.name), dsn)
	legacy := writeV2Data(t, db)
	clock := newTestClock()
	var s *Store
	if external {
		applyFiles(t, b.name, dsn, 2, SchemaVersion)
		s = newStore(t, db, clock, WithoutMigrate())
	} else {
		if _, err := New(ctx, db, WithClock(clock.Now), WithoutMigrate()); !errors.Is(err, ErrSchemaVersion) {
			t.Fatalf("New(WithoutMigrate) on version 2 = %v, want ErrSchemaVersion", err)
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

	// Every row has the grant derived from its id; all are distinct.
	rowGrants := map[string]string{} // digest -> grant_id
	seen := map[string]bool{}
	for _, tc := range []struct{ table, digest, prefix string }{
		{s.t.codes, "code_digest", "v2-code-"},
		{s.t.tokens, "access_digest", "v2-token-"},
	} {
		rows, err := db.Raw("SELECT id, " + tc.digest + ", grant_id FROM " + tc.table).Rows()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var (
				id            int64
				digest, grant string
			)
			if err := rows.Scan(&id, &digest, &grant); err != nil {
				t.Fatal(err)
			}
			n++
			if want := fmt.Sprintf("%s%020d", tc.prefix, id); grant != want {
				t.Errorf("%s row %d: grant_id %q, want %q", tc.table, id, grant, want)
			}
			if !grantURLSafe(grant) || seen[grant] {
				t.Errorf("%s row %d: grant_id %q is malformed or shared", tc.table, id, grant)
			}
			seen[grant] = true
			rowGrants[digest] = grant
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("no rows in %s", tc.table)
		}
	}
	if len(seen) != len(legacy.codes)+1+len(legacy.tokens) {
		t.Fatalf("%d distinct grants, want one per legacy row (%d)", len(seen), len(legacy.codes)+1+len(legacy.tokens))
	}

	// The store returns them.
	for _, code := range legacy.codes {
		c, err := s.GetAuthorizationCode(ctx, code)
		if err != nil {
			t.Fatalf("legacy code: %v", err)
		}
		if c.GrantID != rowGrants[secret.Digest(code)] || c.ClientID != "legacy-client" || c.Nonce != "nonce-1" || !c.AuthTime.Equal(epoch.Add(-time.Minute)) {
			t.Fatalf("legacy code read back as %+v", c)
		}
	}
	if _, err := s.GetAuthorizationCode(ctx, legacy.used); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("legacy used code: %v, want ErrAlreadyUsed", err)
	}
	grantOf := map[string]string{}
	for name, tk := range legacy.tokens {
		want := rowGrants[secret.Digest(tk.access)]
		grantOf[name] = want
		byAccess, err := s.GetTokenByAccess(ctx, tk.access)
		if tk.revoked {
			if !errors.Is(err, storage.ErrRevoked) {
				t.Fatalf("legacy revoked token %s: %v, want ErrRevoked", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("legacy token %s: %v", name, err)
		}
		if byAccess.GrantID != want || byAccess.ClientID != "legacy-client" || byAccess.ExpiresIn != time.Hour {
			t.Fatalf("legacy token %s read back as %+v", name, byAccess)
		}
		if tk.refresh != "" {
			byRefresh, err := s.GetTokenByRefresh(ctx, tk.refresh)
			if err != nil || byRefresh.GrantID != want || byRefresh.RefreshTokenExpiresIn != 24*time.Hour {
				t.Fatalf("legacy token %s by refresh token: %+v, %v", name, byRefresh, err)
			}
		}
	}
	if _, err := s.AuthenticateClient(ctx, "legacy-client", "legacy-secret"); err != nil {
		t.Fatalf("legacy client: %v", err)
	}

	// step runs op and checks that it changed exactly the rows want.
	step := func(what string, op func() error, wantErr error, want ...string) {
		t.Helper()
		before := rowsByID(t, db, s)
		if err := op(); !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		got := changedRows(before, rowsByID(t, db, s))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s changed rows %v, want %v", what, got, want)
		}
	}
	// rowOf returns the key of the one row of table that where selects.
	rowOf := func(table, where string, args ...any) string {
		t.Helper()
		var id int64
		if err := db.Raw("SELECT id FROM "+table+" WHERE "+where, args...).Row().Scan(&id); err != nil {
			t.Fatalf("row of %s where %s: %v", table, where, err)
		}
		return fmt.Sprintf("%s#%d", table, id)
	}

	// A legacy refresh token rotates into its grant.
	rotate := legacy.tokens["rotate"]
	next := &models.Token{AccessToken: "new-access", RefreshToken: "new-refresh", ClientID: "legacy-client", IssuedAt: clock.Now(),
		ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour}
	if err := s.RotateToken(ctx, rotate.refresh, next); err != nil {
		t.Fatalf("RotateToken of a legacy refresh token: %v", err)
	}
	got, err := s.GetTokenByRefresh(ctx, "new-refresh")
	if err != nil || got.GrantID != grantOf["rotate"] {
		t.Fatalf("the pair rotated from a legacy one: %+v, %v; want grant %q", got, err, grantOf["rotate"])
	}
	if _, err := s.GetTokenByRefresh(ctx, rotate.refresh); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("the rotated legacy pair: %v, want ErrRevoked", err)
	}
	newRow := rowOf(s.t.tokens, "access_digest = ?", secret.Digest("new-access"))

	// Reusing it revokes its grant (the old pair is revoked already, the
	// new one is revoked now) and nothing else.
	step("reusing the rotated legacy refresh token", func() error {
		return s.RotateToken(ctx, rotate.refresh, &models.Token{AccessToken: "stolen-access", ClientID: "legacy-client", IssuedAt: clock.Now(), ExpiresIn: time.Hour})
	}, storage.ErrRevoked, newRow)

	// RevokeGrant of one legacy token's grant revokes that token only.
	step("RevokeGrant of a legacy token's grant", func() error { return s.RevokeGrant(ctx, grantOf["revoke"]) }, nil,
		rowOf(s.t.tokens, "grant_id = ?", grantOf["revoke"]))
	step("RevokeGrant again", func() error { return s.RevokeGrant(ctx, grantOf["revoke"]) }, nil)

	// Reusing the refresh token of a pair the version-2 store revoked
	// revokes its own (already revoked) grant: no row changes.
	step("reusing a refresh token revoked under version 2", func() error {
		return s.RotateToken(ctx, legacy.tokens["revoked"].refresh, &models.Token{AccessToken: "stolen-access", ClientID: "legacy-client", IssuedAt: clock.Now(), ExpiresIn: time.Hour})
	}, storage.ErrRevoked)

	// Replaying the code the version-2 store consumed revokes the tokens
	// of its grant, of which there are none.
	step("replaying a code consumed under version 2", func() error {
		_, err := s.ConsumeAuthorizationCode(ctx, legacy.used)
		return err
	}, storage.ErrAlreadyUsed)

	// RevokeGrant of a legacy code's grant marks that code used only.
	codeGrant := rowGrants[secret.Digest(legacy.codes[0])]
	step("RevokeGrant of a legacy code's grant", func() error { return s.RevokeGrant(ctx, codeGrant) }, nil,
		rowOf(s.t.codes, "grant_id = ?", codeGrant))
	if _, err := s.ConsumeAuthorizationCode(ctx, legacy.codes[0]); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("a legacy code of a revoked grant: %v, want ErrAlreadyUsed", err)
	}
	if _, err := s.ConsumeAuthorizationCode(ctx, legacy.codes[1]); err != nil {
		t.Fatalf("another legacy code: %v", err)
	}
	for _, name := range []string{"access", "bystand"} {
		if _, err := s.GetTokenByAccess(ctx, legacy.tokens[name].access); err != nil {
			t.Fatalf("legacy token %s after the operations on other grants: %v", name, err)
		}
	}
	if err := s.RevokeGrant(ctx, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RevokeGrant of the empty grant ID after the upgrade: %v, want ErrNotFound", err)
	}
}
