package gormstore

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/secret"
)

// applyFiles applies the dialect's migration files of versions from+1 to
// upTo to the database at dsn the way an external tool would: each whole
// file in one Exec through the plain database/sql driver (MySQL with
// multiStatements=true), reading them from disk, not through the store.
func applyFiles(t *testing.T, d dialect, dsn string, from, upTo int) {
	t.Helper()
	driver := map[dialect]string{sqliteDialect: "sqlite3", postgresDialect: "pgx", mysqlDialect: "mysql"}[d]
	if d == mysqlDialect {
		cfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MultiStatements = true
		dsn = cfg.FormatDSN()
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, err := filepath.Glob(filepath.Join("migrations", string(d), "*.sql"))
	if err != nil || len(files) != SchemaVersion {
		t.Fatalf("migration files of %s: %v, %v", d, files, err)
	}
	slices.Sort(files)
	for _, f := range files[from:upTo] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), string(b)); err != nil {
			t.Fatalf("applying %s: %v", f, err)
		}
	}
}

// introspect describes the tables and indexes of the schema whose names
// start with prefix, as the database's catalog reports them, with the
// prefix (and schema name) replaced so that schemas under different
// prefixes compare equal.
func introspect(t *testing.T, d dialect, db *gorm.DB, prefix string) string {
	t.Helper()
	var lines []string
	query := func(q string, args ...any) [][]string {
		rows, err := db.Raw(q, args...).Rows()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
				if !v.Valid {
					row[i] = "<null>"
				}
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	add := func(kind string, rows [][]string) {
		for _, r := range rows {
			lines = append(lines, kind+": "+strings.Join(r, " | "))
		}
	}
	switch d {
	case sqliteDialect:
		for _, tr := range query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
			table := tr[0]
			if !strings.HasPrefix(table, prefix) {
				continue
			}
			add("table "+table, nil)
			add("column "+table, query(fmt.Sprintf("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('%s') ORDER BY cid", table)))
			for _, ix := range query(fmt.Sprintf("SELECT name, \"unique\", origin, partial FROM pragma_index_list('%s') ORDER BY name", table)) {
				add("index "+table, [][]string{ix})
				add("index column "+ix[0], query(fmt.Sprintf("SELECT seqno, name FROM pragma_index_info('%s') ORDER BY seqno", ix[0])))
			}
		}
	case postgresDialect:
		schema := query("SELECT current_schema()")[0][0]
		add("column", query(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, is_identity, identity_generation
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`))
		add("index", query("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname"))
		add("constraint", query(`SELECT tc.table_name, tc.constraint_name, tc.constraint_type FROM information_schema.table_constraints tc
			WHERE tc.table_schema = current_schema() AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') ORDER BY 1, 2`))
		for i := range lines {
			lines[i] = strings.ReplaceAll(lines[i], schema+".", "")
		}
	case mysqlDialect:
		add("table", query("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"))
		add("column", query(`SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_KEY, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME
			FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`))
		add("index", query(`SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`))
	}
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, prefix) {
			continue // not one of the store's tables
		}
		out = append(out, strings.ReplaceAll(l, prefix, "<prefix>"))
	}
	if len(out) == 0 {
		t.Fatalf("no schema objects with prefix %q", prefix)
	}
	return strings.Join(out, "\n")
}

// diffLines reports the lines only in a and only in b.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for _, l := range al {
		if !slices.Contains(bl, l) {
			fmt.Fprintf(&out, "- %s\n", l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	return out.String()
}

func versions(t *testing.T, db *gorm.DB, prefix string) []int {
	t.Helper()
	rows, err := db.Raw("SELECT version FROM " + prefix + "schema_version ORDER BY version").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestMigrationFilesMatchNew applies the plain SQL files to one fresh
// database and lets New create the schema, under another prefix, in
// another; the catalogs must describe the same tables, columns and
// indexes. A store with WithoutMigrate then works on the files' schema.
func TestMigrationFilesMatchNew(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.openDSN(t)
		applyFiles(t, b.name, dsn, 0, SchemaVersion)
		filesDB := testenv.OpenGorm(t, string(b.name), dsn)
		newDB := b.open(t)
		clock := newTestClock()
		newStore(t, newDB, clock, WithTablePrefix("np_"))

		fromFiles, fromNew := introspect(t, b.name, filesDB, DefaultTablePrefix), introspect(t, b.name, newDB, "np_")
		if fromFiles != fromNew {
			t.Fatalf("schema from the files differs from New's:\n%s", diffLines(fromFiles, fromNew))
		}
		if !strings.Contains(fromFiles, "tokens_refresh_digest_key") || !strings.Contains(fromFiles, "purge_at_ms") ||
			!strings.Contains(fromFiles, "codes_grant_id_idx") || !strings.Contains(fromFiles, "tokens_grant_id_idx") || !strings.Contains(fromFiles, "rotated_at_ms") {
			t.Fatalf("introspection misses the schema:\n%s", fromFiles)
		}
		if got := versions(t, filesDB, DefaultTablePrefix); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("versions recorded by the files = %v", got)
		}

		s := newStore(t, filesDB, clock, WithoutMigrate())
		if err := s.CreateToken(ctx, token("acc", "ref")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenByRefresh(ctx, "ref"); err != nil {
			t.Fatal(err)
		}
		if v, err := s.InstalledSchemaVersion(ctx); err != nil || v != SchemaVersion {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
	})
}

// TestMigrationUpgrade starts from a version-1 schema holding data, as an
// older deployment left it: WithoutMigrate refuses it, New upgrades it to
// the current schema and the data stays readable.
func TestMigrationUpgrade(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.openDSN(t)
		applyFiles(t, b.name, dsn, 0, 1)
		db := testenv.OpenGorm(t, string(b.name), dsn)
		issued := epoch.Add(-time.Minute)
		if err := db.Exec("INSERT INTO oauthstore_tokens (access_digest, refresh_digest, client_id, scope, token_type, user_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, purge_at_ms, revoked) VALUES (?, NULL, 'legacy', 'read', 'Bearer', 'u1', ?, ?, NULL, ?, FALSE)",
			secret.Digest("legacy-access"), issued.UnixMilli(), issued.Add(time.Hour).UnixMilli(), issued.Add(time.Hour).UnixMilli()).Error; err != nil {
			t.Fatal(err)
		}
		clock := newTestClock()
		if _, err := New(ctx, db, WithClock(clock.Now), WithoutMigrate()); !errors.Is(err, ErrSchemaVersion) {
			t.Fatalf("New(WithoutMigrate) on version 1 = %v, want ErrSchemaVersion", err)
		}
		s := newStore(t, db, clock)
		if got := versions(t, db, DefaultTablePrefix); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("versions after upgrade = %v", got)
		}
		tk, err := s.GetTokenByAccess(ctx, "legacy-access")
		if err != nil {
			t.Fatalf("token stored before the upgrade: %v", err)
		}
		if tk.ClientID != "legacy" || tk.UserID != "u1" || !tk.IssuedAt.Equal(issued) || tk.ExpiresIn != time.Hour {
			t.Fatalf("token stored before the upgrade = %+v", tk)
		}
		fresh := b.open(t)
		newStore(t, fresh, clock)
		if up, want := introspect(t, b.name, db, DefaultTablePrefix), introspect(t, b.name, fresh, DefaultTablePrefix); up != want {
			t.Fatalf("upgraded schema differs from a fresh one:\n%s", diffLines(up, want))
		}
	})
}

// TestMigrationVersionChecks: WithoutMigrate on an empty database and any
// New on a schema newer than the package fail with ErrSchemaVersion.
func TestMigrationVersionChecks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		if _, err := New(ctx, db, WithoutMigrate()); !errors.Is(err, ErrSchemaVersion) {
			t.Fatalf("New(WithoutMigrate) on an empty database = %v, want ErrSchemaVersion", err)
		}
		if db.Migrator().HasTable(DefaultTablePrefix + "schema_version") {
			t.Fatal("WithoutMigrate created a table")
		}
		s := newStore(t, db, newTestClock())
		newStore(t, db, newTestClock()) // again: a no-op
		if got := versions(t, db, DefaultTablePrefix); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("versions = %v", got)
		}
		if err := db.Exec("INSERT INTO "+s.t.version+" (version, name) VALUES (?, ?)", SchemaVersion+1, "from the future").Error; err != nil {
			t.Fatal(err)
		}
		for _, opts := range [][]Option{nil, {WithoutMigrate()}} {
			if _, err := New(ctx, db, opts...); !errors.Is(err, ErrSchemaVersion) {
				t.Fatalf("New on a newer schema = %v, want ErrSchemaVersion", err)
			}
		}
	})
}

// TestConcurrentNew: several stores starting at once on an empty database
// migrate it once, without errors.
func TestConcurrentNew(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var s *Store
				if s, errs[i] = New(t.Context(), db, WithHasher(secret.ForTests())); s != nil {
					closeOnCleanup(t, s)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent New: %v", err)
			}
		}
		if got := versions(t, db, DefaultTablePrefix); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("versions = %v", got)
		}
	})
}

// TestStatements checks the splitter on the shipped files: every
// statement is non-empty, comment-free and carries the prefix asked for.
func TestStatements(t *testing.T) {
	want := map[string]int{"0001_init.sql": 8, "0002_indexes.sql": 5, "0003_grants.sql": 9, "0004_clients.sql": 4}
	for _, d := range []dialect{sqliteDialect, postgresDialect, mysqlDialect} {
		migs, err := migrationsFor(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range migs {
			stmts := statements(m.sql, "pre_")
			want := want[m.name+".sql"]
			if d == sqliteDialect && m.name == "0003_grants" {
				want = 18 // the two tables are rebuilt
			}
			if d == mysqlDialect && m.name == "0004_clients" {
				want = 3 // the columns change in one ALTER TABLE
			}
			if len(stmts) != want {
				t.Errorf("%s/%s: %d statements, want %d", d, m.name, len(stmts), want)
			}
			for _, st := range stmts {
				if st == "" || strings.Contains(st, "--") || strings.Contains(st, ";") || strings.Contains(st, DefaultTablePrefix) || !strings.Contains(st, "pre_") {
					t.Errorf("%s/%s: bad statement %q", d, m.name, st)
				}
			}
		}
	}
	// The embedded files are the files on disk.
	err := fs.WalkDir(Migrations, "migrations", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		embedded, _ := fs.ReadFile(Migrations, path)
		disk, err := os.ReadFile(path)
		if err != nil || string(disk) != string(embedded) {
			t.Errorf("%s: embedded copy differs from the file (%v)", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
