package gormstore

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// dataQueries returns every fixed data statement of the store, sorted.
func (s *Store) dataQueries() []string {
	out := s.q.data()
	sort.Strings(out)
	return out
}

// preparedQueries returns the statements s's pool holds.
func (s *Store) preparedQueries() []string {
	s.pool.mu.RLock()
	defer s.pool.mu.RUnlock()
	var out []string
	for q := range s.pool.stmts { // nil once closed
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// TestPreparedStatements: by default every data statement, transactions
// (DeleteClient) included, runs prepared, the pool keeps exactly the
// store's fixed statements (purges and migrations are not prepared), and
// Close releases them, leaving a store that still works. A DB that is
// itself a PrepareStmt session works the same way.
func TestPreparedStatements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		for _, tc := range []struct {
			name string
			db   *gorm.DB
		}{
			{"plain", db},
			{"PrepareStmt session", db.Session(&gorm.Session{PrepareStmt: true})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clock := newTestClock()
				s := newStore(t, tc.db, clock, WithTablePrefix(randomPrefix()))
				if s.pool == nil || s.data == s.db {
					t.Fatal("the store has no prepared session")
				}
				if s.data.Statement.ConnPool == tc.db.Statement.ConnPool || s.db.Statement.ConnPool != tc.db.Statement.ConnPool {
					t.Fatal("the data session does not use the pool, or the schema session does")
				}
				if got, want := s.preparedQueries(), s.dataQueries(); !slices.Equal(got, want) {
					t.Fatalf("New prepared:\n%q\nwant every data statement:\n%q", got, want)
				}
				exercise(t, s, clock)
				if got, want := s.preparedQueries(), s.dataQueries(); !slices.Equal(got, want) {
					t.Fatalf("prepared statements:\n%q\nwant every data statement and nothing else:\n%q", got, want)
				}

				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if got := s.preparedQueries(); len(got) != 0 {
					t.Fatalf("Close left %d statements", len(got))
				}
				// Still usable, unprepared.
				if err := s.CreateClient(ctx, &models.Client{ClientID: "after-close"}); err != nil {
					t.Fatalf("CreateClient after Close: %v", err)
				}
				if err := s.CreateToken(ctx, token("after-close-access", "after-close-refresh")); err != nil {
					t.Fatalf("CreateToken after Close: %v", err)
				}
				if _, err := s.GetTokenByAccess(ctx, "after-close-access"); err != nil {
					t.Fatalf("GetTokenByAccess after Close: %v", err)
				}
				if err := s.DeleteClient(ctx, "after-close"); err != nil {
					t.Fatalf("DeleteClient after Close: %v", err)
				}
				if got := s.preparedQueries(); len(got) != 0 {
					t.Fatalf("%d statements prepared after Close", len(got))
				}
				if err := s.Close(); err != nil {
					t.Fatalf("second Close: %v", err)
				}
			})
		}
	})
}

// TestWithoutPreparedStatements: the option makes the store run everything
// on its unprepared session, and Close a no-op.
func TestWithoutPreparedStatements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		clock := newTestClock()
		s := newStore(t, db, clock, WithoutPreparedStatements())
		if s.pool != nil || s.data != s.db || s.data.Statement.ConnPool != db.Statement.ConnPool {
			t.Fatal("WithoutPreparedStatements: the store has a prepared session")
		}
		exercise(t, s, clock)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// TestPrepareFailureNotKept: a statement whose preparation fails (its
// table is gone) reports the error, is not remembered, and is prepared
// once the table is back. (New prepares every statement; the test starts
// from an empty pool, as after a failed preparation in New.)
func TestPrepareFailureNotKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		s := newStore(t, db, newTestClock(), WithTablePrefix(randomPrefix()))
		dropTables(t, db, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s.data, s.pool = preparedSession(s.db)
		if _, err := s.GetTokenByAccess(ctx, "acc"); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetTokenByAccess without tables = %v, want a database error", err)
		}
		if err := s.CreateToken(ctx, token("acc", "ref")); err == nil {
			t.Fatal("CreateToken without tables succeeded")
		}
		if got := s.preparedQueries(); len(got) != 0 {
			t.Fatalf("failed preparations were kept: %q", got)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, token("acc", "ref")); err != nil {
			t.Fatalf("CreateToken once the tables are back: %v", err)
		}
		if _, err := s.GetTokenByAccess(ctx, "acc"); err != nil {
			t.Fatalf("GetTokenByAccess once the tables are back: %v", err)
		}
		if got := s.preparedQueries(); !slices.Equal(got, []string{s.q.insertToken, s.q.tokenByAccess}) {
			t.Fatalf("prepared after recovery: %q", got)
		}
	})
}

// TestOneConnection: on a pool of one connection (as a shared-cache
// in-memory SQLite needs) a transaction does not wait for a second
// connection to prepare or run a statement, and a cancelled wait would
// show as an error rather than a hang.
func TestOneConnection(t *testing.T) {
	db := testenv.SQLite(t)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1)
	s := newStore(t, db, newTestClock())
	// A statement New did not prepare, as after a failed preparation.
	s.pool.mu.Lock()
	delete(s.pool.stmts, s.q.deleteClientTokens)
	s.pool.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.CreateClient(ctx, &models.Client{ClientID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, token("acc", "ref")); err != nil {
		t.Fatal(err)
	}
	// The transactions of RotateToken and RevokeGrant, too.
	if err := s.RotateToken(ctx, "ref", token("acc2", "ref2")); err != nil {
		t.Fatalf("RotateToken on one connection: %v", err)
	}
	tk, err := s.GetTokenByRefresh(ctx, "ref2")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeGrant(ctx, tk.GrantID); err != nil {
		t.Fatalf("RevokeGrant on one connection: %v", err)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatalf("DeleteClient on one connection: %v", err)
	}
	if err := s.DeleteClient(ctx, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second DeleteClient = %v, want ErrNotFound", err)
	}
}

// TestBindVars: PostgreSQL's placeholders are numbered; the others keep ?.
func TestBindVars(t *testing.T) {
	q := "UPDATE t SET a = ? WHERE (b = ? OR c = ?) AND d = FALSE"
	if got, want := bindVars(postgresDialect, q), "UPDATE t SET a = $1 WHERE (b = $2 OR c = $3) AND d = FALSE"; got != want {
		t.Errorf("postgres: %q, want %q", got, want)
	}
	for _, d := range []dialect{sqliteDialect, mysqlDialect} {
		if got := bindVars(d, q); got != q {
			t.Errorf("%s: %q", d, got)
		}
	}
}
