package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the admin connection
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Environment variables naming the SQL servers tests use. When one is
// unset, the test is skipped (failed under OAUTHSTORE_TEST_REQUIRE=all) by
// [Unavailable]. The nested infratest module runs the same backends against
// servers it starts in containers.
const (
	// PostgresEnv holds a pgx DSN (URL or key=value form) of a database
	// in which the user may create schemas, e.g.
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	PostgresEnv = "OAUTHSTORE_TEST_POSTGRES_DSN"
	// MySQLEnv holds a go-sql-driver/mysql DSN of a MySQL 8 or MariaDB
	// 10.5+ server whose user may create databases, e.g.
	// root@tcp(127.0.0.1:3306)/test.
	MySQLEnv = "OAUTHSTORE_TEST_MYSQL_DSN"
)

// Dialects accepted by [OpenGorm].
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
	DialectMySQL    = "mysql"
)

// SQLiteDSNFor returns the mattn/go-sqlite3 DSN the project's tests use
// for the database file path: WAL journal, a 10 s busy timeout so that
// concurrent writers wait instead of failing with SQLITE_BUSY, and
// BEGIN IMMEDIATE for transactions so that no transaction has to upgrade
// a read lock.
func SQLiteDSNFor(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate"
}

// SQLiteDSN returns a [SQLiteDSNFor] DSN for a fresh file in t.TempDir(),
// removed with it.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return SQLiteDSNFor(filepath.Join(t.TempDir(), "oauthstore.db"))
}

// SQLite opens a gorm DB on a fresh [SQLiteDSN] database, closed at the
// end of t. SQLite always runs: it is never skipped.
func SQLite(t testing.TB) *gorm.DB {
	t.Helper()
	return OpenGorm(t, DialectSQLite, SQLiteDSN(t))
}

// PostgresDSN returns a DSN for a fresh, empty schema on the PostgreSQL
// server of [PostgresEnv], set as the connection's
// search_path so that tables land in it. The schema is dropped, with
// everything in it, at the end of t. Without a server t is skipped (or
// failed) by [Unavailable].
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base, admin, err := postgresAdmin()
	if err != nil {
		Unavailable(t, "PostgreSQL", PostgresEnv, err.Error())
	}
	name := "oauthstore_test_" + sqlRandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		Unavailable(t, "PostgreSQL", PostgresEnv, "creating a schema: "+err.Error())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`); err != nil {
			t.Errorf("testenv: dropping PostgreSQL schema %s: %v", name, err)
		}
	})
	return withPostgresParam(base, "search_path", name)
}

// Postgres opens a gorm DB on a fresh [PostgresDSN] schema, closed at the
// end of t.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	return OpenGorm(t, DialectPostgres, PostgresDSN(t))
}

// MySQLDSN returns a DSN for a fresh, empty database (utf8mb4) on the MySQL
// or MariaDB server of [MySQLEnv], with parseTime=true
// and loc=UTC added. The database is dropped at the end of t. Without a
// server t is skipped (or failed) by [Unavailable].
func MySQLDSN(t testing.TB) string {
	t.Helper()
	cfg, admin, err := mysqlAdmin()
	if err != nil {
		Unavailable(t, "MySQL", MySQLEnv, err.Error())
	}
	name := "oauthstore_test_" + sqlRandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		Unavailable(t, "MySQL", MySQLEnv, "creating a database: "+err.Error())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("testenv: dropping MySQL database %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}

// MySQL opens a gorm DB on a fresh [MySQLDSN] database, closed at the end
// of t.
func MySQL(t testing.TB) *gorm.DB {
	t.Helper()
	return OpenGorm(t, DialectMySQL, MySQLDSN(t))
}

// OpenGorm opens dsn with the gorm.io driver of dialect ([DialectSQLite],
// [DialectPostgres] or [DialectMySQL]) and a silent logger, checks the
// connection, and closes it at the end of t. It fails t on error.
func OpenGorm(t testing.TB, dialect, dsn string) *gorm.DB {
	t.Helper()
	var d gorm.Dialector
	switch dialect {
	case DialectSQLite:
		d = sqlite.Open(dsn)
	case DialectPostgres:
		d = postgres.Open(dsn)
	case DialectMySQL:
		d = mysql.Open(dsn)
	default:
		t.Fatalf("testenv: unknown dialect %q", dialect)
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("testenv: opening %s: %v", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("testenv: %s connection pool: %v", dialect, err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		t.Fatalf("testenv: connecting to %s: %v", dialect, err)
	}
	return db
}

// errUnset is why a server whose variable is unset is unavailable.
var errUnset = errors.New("variable unset")

// The servers' base DSNs and admin connections, set up once per test
// binary.
var (
	pgOnce  sync.Once
	pgBase  string
	pgAdmin *sql.DB
	pgErr   error

	myOnce  sync.Once
	myCfg   *mysqldriver.Config
	myAdmin *sql.DB
	myErr   error
)

func postgresAdmin() (string, *sql.DB, error) {
	pgOnce.Do(func() {
		pgBase = os.Getenv(PostgresEnv)
		if pgBase == "" {
			pgErr = errUnset
			return
		}
		pgAdmin, pgErr = sqlOpenAdmin("pgx", pgBase)
	})
	return pgBase, pgAdmin, pgErr
}

func mysqlAdmin() (*mysqldriver.Config, *sql.DB, error) {
	myOnce.Do(func() {
		dsn := os.Getenv(MySQLEnv)
		if dsn == "" {
			myErr = errUnset
			return
		}
		if myCfg, myErr = mysqldriver.ParseDSN(dsn); myErr != nil {
			myErr = fmt.Errorf("parsing %s: %w", MySQLEnv, myErr)
			return
		}
		myCfg.ParseTime = true
		myCfg.Loc = time.UTC
		myAdmin, myErr = sqlOpenAdmin("mysql", myCfg.FormatDSN())
	})
	return myCfg, myAdmin, myErr
}

// sqlOpenAdmin opens and pings a small pool kept for the whole test binary.
func sqlOpenAdmin(driver, dsn string) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// withPostgresParam adds a run-time parameter to a pgx DSN in URL or
// key=value form.
func withPostgresParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " " + key + "=" + value
}

func sqlRandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
