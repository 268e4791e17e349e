package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// importToken returns token i of a set: with a refresh token on even i,
// an explicit GrantID on every third (a new random one otherwise).
func importToken(i int) models.Token {
	t := models.Token{
		AccessToken: fmt.Sprintf("access-%05d-0123456789abcdef", i),
		ClientID:    fmt.Sprintf("client-%d", i%7),
		Scope:       "openid profile",
		UserID:      fmt.Sprintf("user-%d", i%11),
		IssuedAt:    epoch.Add(time.Duration(i) * time.Millisecond),
		ExpiresIn:   time.Hour,
	}
	if i%2 == 0 {
		t.RefreshToken = fmt.Sprintf("refresh-%05d-0123456789abcdef", i)
		t.RefreshTokenExpiresIn = 24 * time.Hour
	}
	if i%3 == 0 {
		t.GrantID = fmt.Sprintf("grant-%d", i)
	}
	return t
}

// TestImportTokens: ImportTokens writes, over several batches, exactly the
// rows CreateToken writes for the same tokens, and each is found again.
func TestImportTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		const n = 2*ImportBatchSize + 3
		toks := make([]models.Token, n)
		for i := range toks {
			toks[i] = importToken(i)
			toks[i].GrantID = fmt.Sprint("grant-", i) // so that both stores write the same rows
		}
		clock := newTestClock()
		imported := newStore(t, b.open(t), clock)
		if err := imported.ImportTokens(ctx, toks); err != nil {
			t.Fatalf("ImportTokens: %v", err)
		}
		created := newStore(t, b.open(t), clock)
		for i := range toks {
			if err := created.CreateToken(ctx, &toks[i]); err != nil {
				t.Fatalf("CreateToken %d: %v", i, err)
			}
		}
		got, err := dumpTables(ctx, imported.db, imported.t.tokens)
		if err != nil {
			t.Fatal(err)
		}
		want, err := dumpTables(ctx, created.db, created.t.tokens)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("imported rows differ from created ones:\n%s\nwant\n%s", firstLines(got, 3), firstLines(want, 3))
		}
		for _, i := range []int{0, 1, ImportBatchSize, n - 1} {
			tok, err := imported.GetTokenByAccess(ctx, toks[i].AccessToken)
			if err != nil {
				t.Fatalf("token %d by access: %v", i, err)
			}
			if tok.ClientID != toks[i].ClientID || tok.GrantID != toks[i].GrantID || !tok.IssuedAt.Equal(toks[i].IssuedAt) {
				t.Fatalf("token %d read back as %+v", i, tok)
			}
			if toks[i].RefreshToken != "" {
				if _, err := imported.GetTokenByRefresh(ctx, toks[i].RefreshToken); err != nil {
					t.Fatalf("token %d by refresh: %v", i, err)
				}
			}
		}
	})
}

// TestImportTokensAllOrNothing: an invalid token, a taken credential or a
// duplicate inside the import writes nothing.
func TestImportTokensAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		s := newStore(t, db, newTestClock())
		stored := importToken(10_000)
		if err := s.CreateToken(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		set := func(n int, edit func([]models.Token)) []models.Token {
			toks := make([]models.Token, n)
			for i := range toks {
				toks[i] = importToken(i)
			}
			edit(toks)
			return toks
		}
		for _, c := range []struct {
			name string
			toks []models.Token
			want error
			msg  string
		}{
			{"no client ID", set(ImportBatchSize+5, func(ts []models.Token) { ts[ImportBatchSize+2].ClientID = "" }), storage.ErrInvalid, fmt.Sprintf("token %d", ImportBatchSize+2)},
			{"client ID too long", set(3, func(ts []models.Token) { ts[1].ClientID = strings.Repeat("c", MaxClientIDLen+1) }), storage.ErrInvalid, "token 1"},
			{"access token stored", set(ImportBatchSize+5, func(ts []models.Token) { ts[ImportBatchSize+1].AccessToken = stored.AccessToken }), storage.ErrAlreadyExists, ""},
			{"refresh token stored", set(4, func(ts []models.Token) { ts[2].RefreshToken = stored.RefreshToken }), storage.ErrAlreadyExists, ""},
			{"access token twice", set(ImportBatchSize+5, func(ts []models.Token) { ts[ImportBatchSize+4].AccessToken = ts[3].AccessToken }), storage.ErrAlreadyExists, ""},
		} {
			err := s.ImportTokens(ctx, c.toks)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: %v, want %v naming %q", c.name, err, c.want, c.msg)
			}
			for _, tok := range c.toks {
				if strings.Contains(err.Error(), tok.AccessToken) || (tok.RefreshToken != "" && strings.Contains(err.Error(), tok.RefreshToken)) {
					t.Errorf("%s: the error shows a credential: %v", c.name, err)
				}
			}
			if n := countRows(t, db, s.t.tokens); n != 1 {
				t.Fatalf("%s: %d token rows, want only the one stored before", c.name, n)
			}
		}
		if err := s.ImportTokens(ctx, nil); err != nil {
			t.Fatalf("importing nothing: %v", err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.ImportTokens(cancelled, []models.Token{importToken(1)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("with a cancelled context: %v", err)
		}
	})
}

// TestImportTokensSQLiteCache: the page cache ImportTokens raises on its
// SQLite connection is set back before the connection returns to the pool.
func TestImportTokensSQLiteCache(t *testing.T) {
	db := backends[0].open(t)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1) // the import's connection is the one read below
	s := newStore(t, db, newTestClock(), WithoutPreparedStatements())
	cacheSize := func() int64 {
		var v int64
		if err := sqlDB.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := cacheSize()
	if err := s.ImportTokens(t.Context(), []models.Token{importToken(1), importToken(2)}); err != nil {
		t.Fatal(err)
	}
	if after := cacheSize(); after != before {
		t.Fatalf("cache_size is %d after the import, %d before", after, before)
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
