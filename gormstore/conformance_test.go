package gormstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// sqliteDumpStore is a store on its own SQLite file whose raw bytes, main
// file and write-ahead log, are the dump.
type sqliteDumpStore struct {
	*Store
	path string
}

func (s sqliteDumpStore) DumpRaw(context.Context) ([]byte, error) { return readSQLiteFiles(s.path) }

// readSQLiteFiles returns the bytes of the database file and its WAL.
func readSQLiteFiles(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return append(b, wal...), nil
}

// tableDumpStore is a store under its own table prefix whose tables, read
// back as text, are the dump.
type tableDumpStore struct {
	*Store
}

func (s tableDumpStore) DumpRaw(ctx context.Context) ([]byte, error) {
	return dumpTables(ctx, s.db, s.tableNames()...)
}

var (
	_ conformance.RawDumper = sqliteDumpStore{}
	_ conformance.RawDumper = tableDumpStore{}
)

func TestConformanceSQLite(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		path := filepath.Join(t.TempDir(), "oauthstore.db")
		db := testenv.OpenGorm(t, testenv.DialectSQLite, testenv.SQLiteDSNFor(path))
		s, err := New(t.Context(), db, WithClock(clock), WithHasher(secret.ForTests()))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		closeOnCleanup(t, s)
		return sqliteDumpStore{s, path}
	})
}

func TestConformancePostgres(t *testing.T) {
	conformanceOnShared(t, testenv.Postgres(t))
}

func TestConformanceMySQL(t *testing.T) {
	conformanceOnShared(t, testenv.MySQL(t))
}

// TestConformanceReuseInterval runs the reuse-interval cases on every
// database, each store with WithReuseInterval.
func TestConformanceReuseInterval(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		open := optionStores(t, b)
		conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
			return open(t, WithClock(clock), WithReuseInterval(interval))
		})
	})
}

// TestConformanceKeyed runs the keyed-digest and key-rotation cases on
// every database, each store with WithDigestKeys.
func TestConformanceKeyed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		open := optionStores(t, b)
		conformance.RunKeyed(t, func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage {
			return open(t, WithClock(clock), WithDigestKeys(keys))
		})
	})
}

// TestConformanceMinCredentialLength runs the minimum-length cases on every
// database, each store with WithMinCredentialLength.
func TestConformanceMinCredentialLength(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		open := optionStores(t, b)
		conformance.RunMinCredentialLength(t, func(t *testing.T, clock func() time.Time, n int) storage.Storage {
			return open(t, WithClock(clock), WithMinCredentialLength(n))
		})
	})
}

// optionStores returns a function that opens an empty store with opts (and
// the tests' hasher) on backend b, for the suites of optional features:
// on SQLite a database file of its own, dumped raw; elsewhere a random
// table prefix on one shared database, dumped as text, its tables dropped
// afterwards.
func optionStores(t *testing.T, b backend) func(t *testing.T, opts ...Option) storage.Storage {
	var db *gorm.DB
	if b.name != sqliteDialect {
		db = b.open(t)
	}
	return func(t *testing.T, opts ...Option) storage.Storage {
		opts = append([]Option{WithHasher(secret.ForTests())}, opts...)
		if db == nil {
			path := filepath.Join(t.TempDir(), "oauthstore.db")
			s, err := New(t.Context(), testenv.OpenGorm(t, testenv.DialectSQLite, testenv.SQLiteDSNFor(path)), opts...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			closeOnCleanup(t, s)
			return sqliteDumpStore{s, path}
		}
		s, err := New(t.Context(), db, append(opts, WithTablePrefix(randomPrefix()))...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		closeOnCleanup(t, s) // runs after dropTables: cleanups run last-in first-out
		t.Cleanup(func() { dropTables(t, db, s) })
		return tableDumpStore{s}
	}
}

// conformanceOnShared runs the suite on one database, giving each store a
// random table prefix of its own and dropping its tables afterwards.
func conformanceOnShared(t *testing.T, db *gorm.DB) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		s, err := New(t.Context(), db, WithClock(clock), WithHasher(secret.ForTests()), WithTablePrefix(randomPrefix()))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		closeOnCleanup(t, s) // runs after dropTables: cleanups run last-in first-out
		t.Cleanup(func() { dropTables(t, db, s) })
		return tableDumpStore{s}
	})
}

func randomPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + "_"
}

func dropTables(t testing.TB, db *gorm.DB, s *Store) {
	for _, table := range s.tableNames() {
		if err := db.Exec("DROP TABLE IF EXISTS " + table).Error; err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	}
}
