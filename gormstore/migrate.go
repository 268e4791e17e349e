package gormstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
)

// SchemaVersion is the schema version this package reads and writes: the
// highest-numbered file in migrations/.
const SchemaVersion = 4

// Migrations holds the SQL files that create and upgrade the schema, one
// directory per dialect (sqlite, postgres, mysql), each file named
// NNNN_description.sql and applied in order. They use [DefaultTablePrefix]
// and record their version in the oauthstore_schema_version table, so that
// teams applying them with their own tool can use [WithoutMigrate].
//
//go:embed migrations
var Migrations embed.FS

// migration is one file of [Migrations].
type migration struct {
	version int
	name    string // file name without .sql
	sql     string // with DefaultTablePrefix
}

// migrationsFor returns the dialect's migrations in version order.
func migrationsFor(d dialect) ([]migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(Migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("gormstore: reading migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("gormstore: migration file %s has no version number", e.Name())
		}
		b, err := fs.ReadFile(Migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("gormstore: reading migrations: %w", err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("gormstore: migrations of %s: version %d where %d was expected", d, m.version, i+1)
		}
	}
	if len(out) != SchemaVersion {
		return nil, fmt.Errorf("gormstore: migrations of %s end at version %d, not %d", d, len(out), SchemaVersion)
	}
	return out, nil
}

// statements splits a migration file into statements for prefix: comment
// lines are dropped, a statement ends with a line ending in ";", and
// [DefaultTablePrefix] is replaced by prefix. The files are kept simple
// enough (no semicolons or the prefix inside literals) for this to be exact.
func statements(sqlText, prefix string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sqlText, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, strings.ReplaceAll(stmt, DefaultTablePrefix, prefix))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, strings.ReplaceAll(rest, DefaultTablePrefix, prefix))
	}
	return out
}

// InstalledSchemaVersion returns the schema version recorded in the database for
// the store's table prefix: 0 if there is no schema.
func (s *Store) InstalledSchemaVersion(ctx context.Context) (int, error) {
	if err := backendkit.CtxErr(ctx, "gormstore: schema version"); err != nil {
		return 0, err
	}
	return s.schemaVersion(s.with(ctx))
}

func (s *Store) schemaVersion(db *gorm.DB) (int, error) {
	if !db.Migrator().HasTable(s.t.version) {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.Raw("SELECT MAX(version) FROM " + s.t.version).Row().Scan(&v); err != nil {
		return 0, dbError("reading schema version", err)
	}
	return int(v.Int64), nil
}

// Migrate creates the schema or upgrades it to [SchemaVersion], applying
// the embedded files of [Migrations] newer than the recorded version.
// [New] calls it unless [WithoutMigrate] is given. Concurrent callers, in
// one process or several, are serialised: on PostgreSQL by an advisory
// lock in the migration's transaction, on MySQL by GET_LOCK, on SQLite by
// the database's write lock. On PostgreSQL and SQLite each file is applied
// in a transaction; MySQL commits DDL statement by statement.
func (s *Store) Migrate(ctx context.Context) error {
	if err := backendkit.CtxErr(ctx, "gormstore: migrate"); err != nil {
		return err
	}
	migs, err := migrationsFor(s.dialect)
	if err != nil {
		return err
	}
	db := s.with(ctx)
	// Fast path: an up-to-date schema needs no lock.
	v, err := s.schemaVersion(db)
	if err != nil {
		return err
	}
	if v == SchemaVersion {
		return nil
	}
	if v > SchemaVersion {
		return s.tooNew(v)
	}
	switch s.dialect {
	case postgresDialect:
		return db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", s.lockKey()).Error; err != nil {
				return dbError("migrate: locking", err)
			}
			return s.applyPending(tx, migs)
		})
	case sqliteDialect:
		return db.Transaction(func(tx *gorm.DB) error { return s.applyPending(tx, migs) })
	default: // MySQL: DDL is not transactional.
		return db.Connection(func(conn *gorm.DB) error {
			name := fmt.Sprintf("oauthstore_migrate_%x", s.lockKey())
			var got sql.NullInt64
			if err := conn.Raw("SELECT GET_LOCK(?, 60)", name).Row().Scan(&got); err != nil {
				return dbError("migrate: locking", err)
			}
			if got.Int64 != 1 {
				return dbError("migrate: locking", errors.New("GET_LOCK timed out after 60s"))
			}
			defer conn.Exec("SELECT RELEASE_LOCK(?)", name)
			return s.applyPending(conn, migs)
		})
	}
}

// lockKey identifies the migration lock of the store's prefix.
func (s *Store) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("oauthstore:" + s.prefix))
	return int64(h.Sum64() >> 1)
}

func (s *Store) tooNew(v int) error {
	return fmt.Errorf("gormstore: schema version %d is newer than this package's %d: %w", v, SchemaVersion, ErrSchemaVersion)
}

// applyPending applies the migrations newer than the version db reports,
// each statement through db.
func (s *Store) applyPending(db *gorm.DB, migs []migration) error {
	v, err := s.schemaVersion(db)
	if err != nil {
		return err
	}
	if v > SchemaVersion {
		return s.tooNew(v)
	}
	for _, m := range migs[v:] {
		for _, stmt := range statements(m.sql, s.prefix) {
			if err := db.Exec(stmt).Error; err != nil {
				return dbError(fmt.Sprintf("applying migration %s", m.name), err)
			}
		}
	}
	return nil
}
