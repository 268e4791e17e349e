package infratest

import (
	"context"
	"net/url"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/examples/authserver/e2e"
	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/infratest/internal/containers"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// gormDump is a store whose schema (every table in it) is its dump.
type gormDump struct {
	*gormstore.Store
	dump func(context.Context) ([]byte, error)
}

func (d gormDump) DumpRaw(ctx context.Context) ([]byte, error) { return d.dump(ctx) }

var _ conformance.RawDumper = gormDump{}

// isolatedDB opens a gorm DB on a fresh schema or database of its own,
// dropped when t ends, and returns how to dump every table in it.
type isolatedDB func(t *testing.T) (*gorm.DB, func(context.Context) ([]byte, error))

// postgresIsolated gives each store a schema of its own on srv, set as
// its connections' search_path.
func postgresIsolated(t *testing.T, srv *containers.Server) isolatedDB {
	admin := openAdmin(t, "pgx", srv.DSN)
	base, err := url.Parse(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return `"` + s + `"` }
	return func(t *testing.T) (*gorm.DB, func(context.Context) ([]byte, error)) {
		schema := randomName("it_")
		exec(t, admin, "CREATE SCHEMA "+quote(schema))
		dropOnCleanup(t, admin, "DROP SCHEMA IF EXISTS "+quote(schema)+" CASCADE")
		u := *base
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db := openGorm(t, postgres.Open(u.String()))
		return db, func(ctx context.Context) ([]byte, error) {
			return dumpSQLTables(ctx, admin, schema, "$1", quote)
		}
	}
}

// mariadbIsolated gives each store a database of its own on srv.
func mariadbIsolated(t *testing.T, srv *containers.Server) isolatedDB {
	admin := openAdmin(t, "mysql", srv.DSN)
	cfg, err := mysqldriver.ParseDSN(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return "`" + s + "`" }
	return func(t *testing.T) (*gorm.DB, func(context.Context) ([]byte, error)) {
		name := randomName("it_")
		exec(t, admin, "CREATE DATABASE "+quote(name)+" CHARACTER SET utf8mb4")
		dropOnCleanup(t, admin, "DROP DATABASE IF EXISTS "+quote(name))
		c := cfg.Clone()
		c.DBName = name
		db := openGorm(t, mysql.Open(c.FormatDSN()))
		return db, func(ctx context.Context) ([]byte, error) {
			return dumpSQLTables(ctx, admin, name, "?", quote)
		}
	}
}

// newGormStore returns a store on db under a random table prefix, with
// the fast test hasher, closed when t ends.
func newGormStore(t *testing.T, db *gorm.DB, opts ...gormstore.Option) *gormstore.Store {
	t.Helper()
	opts = append([]gormstore.Option{gormstore.WithHasher(secret.ForTests()), gormstore.WithTablePrefix(randomName("p") + "_")}, opts...)
	s, err := gormstore.New(t.Context(), db, opts...)
	if err != nil {
		t.Fatalf("gormstore.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// gormConformance runs conformance.Run and conformance.RunReuseInterval on
// stores each on a database of its own from isolated.
func gormConformance(t *testing.T, isolated isolatedDB) {
	t.Run("Conformance", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
			db, dump := isolated(t)
			return gormDump{newGormStore(t, db, gormstore.WithClock(clock)), dump}
		})
	})
	t.Run("ReuseInterval", func(t *testing.T) {
		conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
			db, dump := isolated(t)
			return gormDump{newGormStore(t, db, gormstore.WithClock(clock), gormstore.WithReuseInterval(interval)), dump}
		})
	})
	// The example server's end-to-end flows (golang.org/x/oauth2 against
	// go-oauth2 on the store), on the same server.
	t.Run("EndToEnd", func(t *testing.T) {
		e2e.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
			db, _ := isolated(t)
			return newGormStore(t, db, gormstore.WithClock(clock))
		})
	})
}

func TestGormPostgres(t *testing.T) {
	t.Parallel()
	srv := containers.Start(t, containers.Postgres)
	gormConformance(t, postgresIsolated(t, srv))
}

func TestGormMariaDB(t *testing.T) {
	t.Parallel()
	srv := containers.Start(t, containers.MySQL)
	gormConformance(t, mariadbIsolated(t, srv))
}
