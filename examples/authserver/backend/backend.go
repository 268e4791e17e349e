// Package backend opens the oauthstore backend an authserver DSN names.
//
// # DSNs
//
//   - memory: the in-process [memstore] (lost when the process ends).
//   - sqlite:PATH a SQLite file through [gormstore] (created if missing).
//   - postgres://… or postgresql://… PostgreSQL through [gormstore] and
//     gorm's PostgreSQL driver (the URL is passed to pgx as is).
//   - mysql://USER:PASSWORD@HOST:PORT/DB?PARAMS MySQL or MariaDB through
//     [gormstore]; the URL is turned into a go-sql-driver/mysql DSN.
//   - mongodb://… or mongodb+srv://… MongoDB (or FerretDB) through
//     [mongostore]; the database is the URL's path, "oauthstore" if none.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultMongoDatabase is the database a mongodb:// DSN without a path uses.
const DefaultMongoDatabase = "oauthstore"

// Options configures [Open].
type Options struct {
	// Clock is the store's clock; nil means time.Now.
	Clock func() time.Time
	// Hasher hashes client secrets; nil means [secret.Default].
	Hasher secret.Hasher
}

// Open opens the store dsn names (see the package documentation) and
// returns it with a function that closes its connections.
func Open(ctx context.Context, dsn string, o Options) (storage.Storage, func() error, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Hasher == nil {
		o.Hasher = secret.Default()
	}
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, nil, fmt.Errorf("backend: DSN %q has no scheme (memory:, sqlite:PATH, postgres://, mysql://, mongodb://)", redact(dsn))
	}
	switch strings.ToLower(scheme) {
	case "memory":
		return memstore.New(memstore.WithClock(o.Clock), memstore.WithHasher(o.Hasher)), func() error { return nil }, nil
	case "sqlite":
		if rest == "" {
			return nil, nil, errors.New("backend: sqlite: DSN needs a path, as in sqlite:authserver.db")
		}
		return openGorm(ctx, sqlite.Open(SQLiteDSN(rest)), o)
	case "postgres", "postgresql":
		return openGorm(ctx, postgres.Open(dsn), o)
	case "mysql":
		d, err := MySQLDSN(dsn)
		if err != nil {
			return nil, nil, err
		}
		return openGorm(ctx, mysql.Open(d), o)
	case "mongodb", "mongodb+srv":
		return openMongo(ctx, dsn, o)
	}
	return nil, nil, fmt.Errorf("backend: unknown DSN scheme %q (memory:, sqlite:PATH, postgres://, mysql://, mongodb://)", scheme)
}

// SQLiteDSN returns the mattn/go-sqlite3 DSN of the file at path: WAL
// journal, a busy timeout so concurrent writers wait instead of failing, and
// immediate transactions so they never deadlock upgrading a read lock.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate"
}

// MySQLDSN turns mysql://USER:PASSWORD@HOST:PORT/DB?PARAMS into a
// go-sql-driver/mysql DSN, with parseTime on. PARAMS are passed through.
func MySQLDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("backend: mysql: malformed URL %q", redact(raw))
	}
	c := gomysql.NewConfig()
	c.Net = "tcp"
	c.Addr = u.Host
	if u.Port() == "" {
		c.Addr = u.Hostname() + ":3306"
	}
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.DBName = strings.TrimPrefix(u.Path, "/")
	c.ParseTime = true
	for k, v := range u.Query() {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params[k] = v[len(v)-1]
	}
	if c.DBName == "" {
		return "", errors.New("backend: mysql: the URL names no database, as in mysql://root@127.0.0.1:3306/oauthstore")
	}
	return c.FormatDSN(), nil
}

func openGorm(ctx context.Context, d gorm.Dialector, o Options) (storage.Storage, func() error, error) {
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("backend: opening %s: %w", d.Name(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("backend: %s: %w", d.Name(), err)
	}
	s, err := gormstore.New(ctx, db, gormstore.WithClock(o.Clock), gormstore.WithHasher(o.Hasher))
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	// The store's prepared statements first, then the connections.
	return s, func() error { return errors.Join(s.Close(), sqlDB.Close()) }, nil
}

func openMongo(ctx context.Context, dsn string, o Options) (storage.Storage, func() error, error) {
	cs, err := connstring.ParseAndValidate(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("backend: mongodb: malformed URL %q", redact(dsn))
	}
	name := cs.Database
	if name == "" {
		name = DefaultMongoDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(dsn).SetTimeout(30 * time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("backend: mongodb: %w", err)
	}
	closeFn := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Disconnect(ctx)
	}
	s, err := mongostore.New(ctx, client.Database(name), mongostore.WithClock(o.Clock), mongostore.WithHasher(o.Hasher))
	if err != nil {
		_ = closeFn()
		return nil, nil, err
	}
	return s, closeFn, nil
}

// redact hides the password of a URL-shaped DSN, for error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "@") {
			return "(DSN not shown: it may hold a password)"
		}
		return dsn
	}
	return u.Redacted()
}
