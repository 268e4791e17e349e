package gormstore

import (
	"bytes"
	"errors"
	"log"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// credentials are distinctive plaintext values: finding one in a file or
// log means it leaked.
type credentials struct {
	secrets, codes, access, refresh []string
}

func (c credentials) all() []string {
	var out []string
	for _, l := range [][]string{c.secrets, c.codes, c.access, c.refresh} {
		out = append(out, l...)
	}
	return out
}

// exercise runs the client, code and token operations the conformance
// suite runs (create, get, authenticate, consume, revoke, delete, purge,
// duplicates and failures) with distinctive credentials, and returns them.
func exercise(t *testing.T, s *Store, clock *testClock) credentials {
	t.Helper()
	ctx := t.Context()
	var c credentials
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for i, id := range []string{"client-a", "client-b", "client-c"} {
		sec := "PLAINSECRET-" + id + "-9f8e7d6c5b4a"
		c.secrets = append(c.secrets, sec)
		must(s.CreateClient(ctx, &models.Client{ClientID: id, ClientSecret: sec, GrantTypes: []models.GrantType{models.GrantAuthorizationCode},
			RedirectURIs: []string{"https://app.example/cb"}, Scope: "read write"}), "CreateClient")
		_, err := s.AuthenticateClient(ctx, id, sec)
		must(err, "AuthenticateClient")
		if _, err := s.AuthenticateClient(ctx, id, sec+"x"); !errors.Is(err, storage.ErrInvalidSecret) {
			t.Fatalf("wrong secret: %v", err)
		}
		if err := s.CreateClient(ctx, &models.Client{ClientID: id, ClientSecret: sec}); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("duplicate client: %v", err)
		}
		for j := range 3 {
			code := "PLAINCODE-" + id + "-" + string(rune('0'+j)) + "-1a2b3c4d5e"
			c.codes = append(c.codes, code)
			// The S256 challenge of RFC 7636 appendix B: not a secret.
			must(s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: id, AuthTime: clock.Now(), ExpiresIn: time.Minute,
				CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: models.CodeChallengeS256}), "CreateAuthorizationCode")
			if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: id, AuthTime: clock.Now(), ExpiresIn: time.Minute}); !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatalf("duplicate code: %v", err)
			}
			_, err := s.GetAuthorizationCode(ctx, code)
			must(err, "GetAuthorizationCode")
			if j > 0 {
				_, err := s.ConsumeAuthorizationCode(ctx, code)
				must(err, "ConsumeAuthorizationCode")
				if _, err := s.ConsumeAuthorizationCode(ctx, code); !errors.Is(err, storage.ErrAlreadyUsed) {
					t.Fatalf("second consume: %v", err)
				}
			}
			access := "PLAINACCESS-" + id + "-" + string(rune('0'+j)) + "-6f7a8b9c"
			refresh := "PLAINREFRESH-" + id + "-" + string(rune('0'+j)) + "-0d1e2f3a"
			c.access = append(c.access, access)
			c.refresh = append(c.refresh, refresh)
			must(s.CreateToken(ctx, &models.Token{AccessToken: access, RefreshToken: refresh, ClientID: id, IssuedAt: clock.Now(),
				ExpiresIn: time.Duration(i+1) * time.Minute, RefreshTokenExpiresIn: time.Duration(i+1) * time.Hour}), "CreateToken")
			if err := s.CreateToken(ctx, &models.Token{AccessToken: access + "-other", RefreshToken: refresh, ClientID: id, IssuedAt: clock.Now(),
				ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}); !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatalf("duplicate refresh: %v", err)
			}
			_, err = s.GetTokenByAccess(ctx, access)
			must(err, "GetTokenByAccess")
			_, err = s.GetTokenByRefresh(ctx, refresh)
			must(err, "GetTokenByRefresh")
			if j == 1 {
				must(s.RevokeToken(ctx, refresh), "RevokeToken")
				must(s.RevokeToken(ctx, access), "RevokeToken again")
			}
		}
		exerciseGrants(t, s, clock, id, &c)
	}
	must(s.DeleteAuthorizationCode(ctx, c.codes[0]), "DeleteAuthorizationCode")
	must(s.DeleteClient(ctx, "client-c"), "DeleteClient")
	clock.Add(2 * time.Minute)
	_, err := s.PurgeExpired(ctx)
	must(err, "PurgeExpired")
	return c
}

// exerciseGrants runs the grant operations for the client id, after
// exercise created its three pairs: rotations (without and with a GrantID
// for the next pair), a reuse, a refused mismatch, RevokeGrant of a grant
// with a code and tokens, again, and of an unknown grant. The credentials
// it creates are added to c.
func exerciseGrants(t *testing.T, s *Store, clock *testClock, id string, c *credentials) {
	t.Helper()
	ctx := t.Context()
	n := len(c.access)
	first, third := n-3, n-1 // the live pairs of the client's three
	pair := func(k int) *models.Token {
		access := "PLAINACCESS-" + id + "-rot" + string(rune('0'+k)) + "-5e6f7a8b"
		refresh := "PLAINREFRESH-" + id + "-rot" + string(rune('0'+k)) + "-9c0d1e2f"
		c.access = append(c.access, access)
		c.refresh = append(c.refresh, refresh)
		return &models.Token{AccessToken: access, RefreshToken: refresh, ClientID: id, IssuedAt: clock.Now(),
			ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}
	}
	old, err := s.GetTokenByRefresh(ctx, c.refresh[first])
	if err != nil {
		t.Fatalf("GetTokenByRefresh: %v", err)
	}
	next := pair(0)
	if err := s.RotateToken(ctx, c.refresh[first], next); err != nil {
		t.Fatalf("RotateToken: %v", err)
	}
	mismatch := pair(1)
	mismatch.GrantID = "another-grant-" + id
	if err := s.RotateToken(ctx, next.RefreshToken, mismatch); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("RotateToken into another grant: %v, want ErrInvalid", err)
	}
	last := pair(2)
	last.GrantID = old.GrantID
	if err := s.RotateToken(ctx, next.RefreshToken, last); err != nil {
		t.Fatalf("RotateToken naming the grant: %v", err)
	}
	if err := s.RotateToken(ctx, c.refresh[first], pair(3)); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("RotateToken reusing a rotated refresh token: %v, want ErrRevoked", err)
	}
	if _, err := s.GetTokenByAccess(ctx, last.AccessToken); !errors.Is(err, storage.ErrRevoked) {
		t.Fatalf("the newest pair after a reuse: %v, want ErrRevoked", err)
	}

	tok, err := s.GetTokenByAccess(ctx, c.access[third])
	if err != nil {
		t.Fatalf("GetTokenByAccess: %v", err)
	}
	code := "PLAINCODE-" + id + "-grant-7b8c9d0e"
	c.codes = append(c.codes, code)
	if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: id, AuthTime: clock.Now(), ExpiresIn: time.Minute, GrantID: tok.GrantID}); err != nil {
		t.Fatalf("CreateAuthorizationCode: %v", err)
	}
	for range 2 {
		if err := s.RevokeGrant(ctx, tok.GrantID); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
	}
	if _, err := s.GetAuthorizationCode(ctx, code); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("a code of a revoked grant: %v, want ErrAlreadyUsed", err)
	}
	if err := s.RevokeGrant(ctx, "unknown-grant-"+id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RevokeGrant of an unknown grant: %v, want ErrNotFound", err)
	}
}

// TestSQLiteFileHasNoPlaintext opens the SQLite database file and its WAL
// after client, code and token operations and finds none of the plaintext
// secrets, codes or tokens in their bytes, while it does find their
// digests and hashes (so the check reads the data it should).
func TestSQLiteFileHasNoPlaintext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauthstore.db")
	db := testenv.OpenGorm(t, testenv.DialectSQLite, testenv.SQLiteDSNFor(path))
	clock := newTestClock()
	s := newStore(t, db, clock)
	c := exercise(t, s, clock)

	check := func(when string, raw []byte) {
		t.Helper()
		for _, v := range c.all() {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s: the database files contain a plaintext credential (%.16s...)", when, v)
			}
		}
		// Live rows of client-a: its token's digests must be there.
		for _, v := range []string{c.access[0], c.refresh[0]} {
			if !bytes.Contains(raw, []byte(secret.Digest(v))) {
				t.Errorf("%s: the database files lack a stored digest: the check reads the wrong bytes", when)
			}
		}
		if !bytes.Contains(raw, []byte("$2a$")) {
			t.Errorf("%s: no bcrypt hash in the database files", when)
		}
	}
	raw, err := readSQLiteFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	check("open, with WAL", raw)

	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	raw, err = readSQLiteFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	check("closed", raw)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLoggerSeesNoCredential runs the operations with a gorm logger at
// Info level, which logs every statement with its bound values, and finds
// no plaintext credential in the log, only digests.
func TestLoggerSeesNoCredential(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var buf syncBuffer
		l := logger.New(log.New(&buf, "", 0), logger.Config{LogLevel: logger.Info, Colorful: false})
		db := b.open(t).Session(&gorm.Session{Logger: l})
		clock := newTestClock()
		s := newStore(t, db, clock)
		c := exercise(t, s, clock)
		out := buf.String()
		for _, v := range c.all() {
			if strings.Contains(out, v) {
				t.Errorf("the gorm log contains a plaintext credential (%.16s...)", v)
			}
		}
		if !strings.Contains(out, secret.Digest(c.access[0])) || !strings.Contains(out, "UPDATE") {
			t.Errorf("the gorm log lacks the statements and bound digests it should show (%d bytes): the check is blind", len(out))
		}
	})
}
