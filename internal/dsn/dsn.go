package dsn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
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
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultMongoDatabase is the database a mongodb:// DSN without a path uses.
const DefaultMongoDatabase = "oauthstore"

// Schemes lists the DSN forms [Open] accepts, for usage and error messages.
const Schemes = "memory:, sqlite:PATH, postgres://…, mysql://USER:PASS@HOST:PORT/DB, mongodb://…, redis://…"

// hidden replaces a DSN that cannot be shown without risking a password.
const hidden = "(DSN not shown: it may hold a password)"

type config struct {
	clock  func() time.Time
	hasher secret.Hasher
	reuse  time.Duration
	keys   *secret.Keyed
	minLen int
}

// Option configures [Open].
type Option func(*config)

// WithClock gives the store its clock (every expiry decision uses it); the
// default is time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithHasher gives the store the hasher of client secrets; the default is
// [secret.Default].
func WithHasher(h secret.Hasher) Option { return func(c *config) { c.hasher = h } }

// WithReuseInterval gives the store a refresh token reuse interval (see
// memstore.WithReuseInterval); the default is none.
func WithReuseInterval(d time.Duration) Option { return func(c *config) { c.reuse = d } }

// WithDigestKeys gives the store keyed digests (see
// memstore.WithDigestKeys); the default is unkeyed.
func WithDigestKeys(keys *secret.Keyed) Option { return func(c *config) { c.keys = keys } }

// WithMinCredentialLength gives the store a minimum code and token length
// (see memstore.WithMinCredentialLength); the default is none.
func WithMinCredentialLength(n int) Option { return func(c *config) { c.minLen = n } }

// Open opens the store dsn names (see the package documentation) and
// returns it with a function that closes its connections. The caller calls
// close once it is done with the store. An error never shows the DSN's
// password.
func Open(ctx context.Context, dsn string, opts ...Option) (s storage.Storage, closeFn func() error, err error) {
	c := config{clock: time.Now, hasher: secret.Default()}
	for _, o := range opts {
		o(&c)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.hasher == nil {
		c.hasher = secret.Default()
	}
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok || scheme == "" {
		return nil, nil, fmt.Errorf("dsn: the DSN has no scheme (%s)", Schemes)
	}
	switch strings.ToLower(scheme) {
	case "memory":
		if rest != "" {
			return nil, nil, errors.New("dsn: memory: takes nothing after the colon")
		}
		st := memstore.New(memstore.WithClock(c.clock), memstore.WithHasher(c.hasher), memstore.WithReuseInterval(c.reuse),
			memstore.WithDigestKeys(c.keys), memstore.WithMinCredentialLength(c.minLen))
		return st, func() error { return nil }, nil
	case "sqlite":
		if rest == "" {
			return nil, nil, errors.New("dsn: sqlite: needs a path, as in sqlite:authserver.db")
		}
		if strings.ContainsAny(rest, "?#") {
			return nil, nil, errors.New("dsn: sqlite: the path must not contain '?' or '#': the connection parameters are set here (see SQLiteDSN)")
		}
		return openGorm(ctx, sqlite.Open(SQLiteDSN(rest)), c)
	case "postgres", "postgresql":
		if _, err := url.Parse(dsn); err != nil {
			return nil, nil, fmt.Errorf("dsn: postgres: malformed URL %s", Redact(dsn))
		}
		return openGorm(ctx, postgres.Open(dsn), c)
	case "mysql":
		d, err := MySQLDSN(dsn)
		if err != nil {
			return nil, nil, err
		}
		return openGorm(ctx, mysql.Open(d), c)
	case "mongodb", "mongodb+srv":
		return openMongo(ctx, dsn, c)
	case "redis", "rediss":
		return openRedis(ctx, dsn, c)
	}
	return nil, nil, fmt.Errorf("dsn: unknown scheme %q (%s)", scheme, Schemes)
}

// SQLiteDSN returns the mattn/go-sqlite3 DSN of the file at path: WAL
// journal, a busy timeout so concurrent writers wait instead of failing,
// immediate transactions so they never deadlock upgrading a read lock, and
// synchronous=NORMAL (the driver's default, made explicit): a commit
// survives a crash of the process, not necessarily a power loss (see
// gormstore's package documentation). [Open] also limits the pool to one
// connection, which keeps the WAL bounded.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate&_synchronous=NORMAL"
}

// MySQLDSN turns mysql://USER:PASSWORD@HOST:PORT/DB?PARAMS into a
// go-sql-driver/mysql DSN, with parseTime on; the port defaults to 3306.
// PARAMS are passed through. A URL that names no database is an error.
func MySQLDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "mysql") {
		return "", fmt.Errorf("dsn: mysql: malformed URL %s", Redact(raw))
	}
	c := gomysql.NewConfig()
	c.Net = "tcp"
	c.Addr = u.Host
	if u.Port() == "" {
		c.Addr = u.Hostname() + ":3306"
		if strings.Contains(u.Hostname(), ":") {
			c.Addr = "[" + u.Hostname() + "]:3306"
		}
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
		return "", errors.New("dsn: mysql: the URL names no database, as in mysql://root@127.0.0.1:3306/oauthstore")
	}
	return c.FormatDSN(), nil
}

func openGorm(ctx context.Context, d gorm.Dialector, c config) (storage.Storage, func() error, error) {
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("dsn: opening %s: %w", d.Name(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("dsn: %s: %w", d.Name(), err)
	}
	if d.Name() == "sqlite" {
		// One connection: with several, concurrent transactions starve
		// SQLite's checkpoints and the WAL grows without bound (hundreds of
		// MB in seconds under 4 writers); with one it stays near
		// wal_autocheckpoint's 1000 pages. Writes are serialised by SQLite
		// anyway.
		sqlDB.SetMaxOpenConns(1)
	}
	s, err := gormstore.New(ctx, db, gormstore.WithClock(c.clock), gormstore.WithHasher(c.hasher), gormstore.WithReuseInterval(c.reuse),
		gormstore.WithDigestKeys(c.keys), gormstore.WithMinCredentialLength(c.minLen))
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	// The store's prepared statements first, then the connections.
	return s, func() error { return errors.Join(s.Close(), sqlDB.Close()) }, nil
}

func openMongo(ctx context.Context, dsn string, c config) (storage.Storage, func() error, error) {
	cs, err := connstring.ParseAndValidate(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("dsn: mongodb: malformed URL %s", Redact(dsn))
	}
	name := cs.Database
	if name == "" {
		name = DefaultMongoDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(dsn).SetTimeout(30 * time.Second))
	if err != nil {
		// The driver's errors do not repeat the URI's password.
		return nil, nil, fmt.Errorf("dsn: mongodb: %w", err)
	}
	closeFn := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Disconnect(ctx)
	}
	s, err := mongostore.New(ctx, client.Database(name), mongostore.WithClock(c.clock), mongostore.WithHasher(c.hasher), mongostore.WithReuseInterval(c.reuse),
		mongostore.WithDigestKeys(c.keys), mongostore.WithMinCredentialLength(c.minLen))
	if err != nil {
		_ = closeFn()
		return nil, nil, err
	}
	return s, closeFn, nil
}

// openRedis opens a redisstore on a redis:// or rediss:// URL
// (redis://[USER:PASSWORD@]HOST:PORT[/DB]); an optional key_prefix query
// parameter sets the store's key prefix (redisstore.WithKeyPrefix).
func openRedis(ctx context.Context, dsn string, c config) (storage.Storage, func() error, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("dsn: redis: malformed URL %s", Redact(dsn))
	}
	q := u.Query()
	prefix := q.Get("key_prefix")
	q.Del("key_prefix")
	u.RawQuery = q.Encode()
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("dsn: redis: malformed URL %s", Redact(dsn))
	}
	client := redis.NewClient(o)
	opts := []redisstore.Option{redisstore.WithClock(c.clock), redisstore.WithHasher(c.hasher), redisstore.WithReuseInterval(c.reuse),
		redisstore.WithDigestKeys(c.keys), redisstore.WithMinCredentialLength(c.minLen)}
	if prefix != "" {
		opts = append(opts, redisstore.WithKeyPrefix(prefix))
	}
	s, err := redisstore.New(ctx, client, opts...)
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("dsn: redis %s: %w", Redact(dsn), err)
	}
	return s, client.Close, nil
}

// Redact returns dsn fit for a log or an error message: memory: and sqlite:
// DSNs as they are; a URL with its password, and the values of query
// parameters that may hold one (password, secret, token, key), replaced by
// "xxxxx"; anything else, which might hold a password where it cannot be
// found, replaced by a notice.
func Redact(dsn string) string {
	scheme, _, ok := strings.Cut(dsn, ":")
	if !ok {
		return hidden
	}
	switch strings.ToLower(scheme) {
	case "memory", "sqlite":
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Opaque != "" {
		return hidden
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			lk := strings.ToLower(k)
			for _, s := range []string{"pass", "pwd", "secret", "token", "key", "credential"} {
				if strings.Contains(lk, s) {
					q[k] = []string{"xxxxx"}
					break
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
