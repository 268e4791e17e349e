package infratest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// cleanupTimeout bounds each clean-up statement.
const cleanupTimeout = 30 * time.Second

// randomName returns prefix followed by 12 random hex digits: a database,
// schema or prefix name no other call returns.
func randomName(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

// openAdmin opens a small pool on dsn for creating and dropping the
// per-store schemas or databases, closed when t ends.
func openAdmin(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("opening the %s admin connection: %v", driver, err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connecting to %s: %v", driver, err)
	}
	return db
}

// openGorm opens d with a silent logger and closes it when t ends.
func openGorm(t testing.TB, d gorm.Dialector) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("gorm.Open(%s): %v", d.Name(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("gorm %s pool: %v", d.Name(), err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// exec runs a statement on admin, failing t on error.
func exec(t testing.TB, admin *sql.DB, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := admin.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// dropOnCleanup runs stmt on admin when t ends, reporting a failure.
func dropOnCleanup(t testing.TB, admin *sql.DB, stmt string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Errorf("%s: %v", stmt, err)
		}
	})
}

// dumpSQLTables returns every row of every table in schema (a PostgreSQL
// schema or a MariaDB database) as text, one "table: col=value ..." line
// per row, each column read as the bytes the server sent. quote quotes an
// identifier for the dialect.
func dumpSQLTables(ctx context.Context, db *sql.DB, schema, placeholder string, quote func(string) string) ([]byte, error) {
	rows, err := db.QueryContext(ctx,
		"SELECT table_name FROM information_schema.tables WHERE table_schema = "+placeholder+" ORDER BY table_name", schema)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return nil, err
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("no table in %s", schema)
	}
	var out strings.Builder
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+quote(schema)+"."+quote(table))
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
		out.WriteString(table + ":")
		for i, c := range cols {
			fmt.Fprintf(out, " %s=%s", c, vals[i])
		}
		out.WriteString("\n")
	}
	return rows.Err()
}
