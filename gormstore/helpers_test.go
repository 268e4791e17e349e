package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/secret"
)

// backend opens a fresh, isolated database of one dialect for a test.
type backend struct {
	name    dialect
	open    func(testing.TB) *gorm.DB
	openDSN func(testing.TB) string
}

var backends = []backend{
	{sqliteDialect, testenv.SQLite, testenv.SQLiteDSN},
	{postgresDialect, testenv.Postgres, testenv.PostgresDSN},
	{mysqlDialect, testenv.MySQL, testenv.MySQLDSN},
}

// forEachBackend runs f as a subtest per database.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(string(b.name), func(t *testing.T) { f(t, b) })
	}
}

// testClock is a settable clock safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

var epoch = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

func newTestClock() *testClock { return &testClock{t: epoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns a migrated store on db with a fast hasher and clock.
func newStore(t testing.TB, db *gorm.DB, clock *testClock, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithClock(clock.Now), WithHasher(secret.ForTests())}, opts...)
	s, err := New(t.Context(), db, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	closeOnCleanup(t, s)
	return s
}

// closeOnCleanup closes s's prepared statements when the test ends.
func closeOnCleanup(t testing.TB, s *Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// countRows returns the number of rows of table.
func countRows(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT COUNT(*) FROM " + table).Row().Scan(&n); err != nil {
		t.Fatalf("counting %s: %v", table, err)
	}
	return n
}

// dumpTables returns every row of the tables as text, one "table: col=value
// ..." line per row, reading each column as raw bytes.
func dumpTables(ctx context.Context, db *gorm.DB, tables ...string) ([]byte, error) {
	var out strings.Builder
	for _, table := range tables {
		rows, err := db.WithContext(ctx).Raw("SELECT * FROM " + table).Rows()
		if err != nil {
			return nil, err
		}
		if err := dumpRows(&out, table, rows); err != nil {
			return nil, err
		}
	}
	return []byte(out.String()), nil
}

func dumpRows(out *strings.Builder, table string, rows *sql.Rows) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s:", table)
		for i, c := range cols {
			fmt.Fprintf(out, " %s=%s", c, vals[i])
		}
		out.WriteByte('\n')
	}
	return rows.Err()
}

// tableNames returns the store's table names.
func (s *Store) tableNames() []string {
	return []string{s.t.version, s.t.clients, s.t.codes, s.t.tokens}
}

// sqlLog records the SQL statements run through a gorm DB, by callbacks
// registered on it (use a DB the test opened itself).
type sqlLog struct {
	mu    sync.Mutex
	stmts []loggedStmt
}

type loggedStmt struct {
	sql  string
	vars []any
	rows int64
}

func recordSQL(t testing.TB, db *gorm.DB) *sqlLog {
	t.Helper()
	l := new(sqlLog)
	record := func(tx *gorm.DB) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.stmts = append(l.stmts, loggedStmt{tx.Statement.SQL.String(), append([]any(nil), tx.Statement.Vars...), tx.Statement.RowsAffected})
	}
	name := fmt.Sprintf("test:record:%p", l)
	if err := db.Callback().Raw().After("gorm:raw").Register(name, record); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register(name, record); err != nil {
		t.Fatal(err)
	}
	return l
}

// take returns the statements recorded so far and forgets them.
func (l *sqlLog) take() []loggedStmt {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stmts
	l.stmts = nil
	return out
}
