package gormstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultTablePrefix is the prefix of every table and index name unless
// [WithTablePrefix] says otherwise. The SQL files in migrations/ use it.
const DefaultTablePrefix = "oauthstore_"

// DefaultPurgeBatchSize is how many rows one DELETE of
// [Store.PurgeExpired] removes at most, unless [WithPurgeBatchSize] says
// otherwise.
const DefaultPurgeBatchSize = 1000

// MaxClientIDLen is the longest client ID, in bytes, the store accepts: the
// width of the client_id columns on MySQL. Longer IDs are
// [storage.ErrInvalid] on every database, so that data moves between them.
const MaxClientIDLen = 255

// Store is a [storage.Storage] on a SQL database reached through gorm. It
// is safe for concurrent use; its methods are atomic on their own, and the
// database, not the process, arbitrates between concurrent callers, so
// several processes may share one database.
type Store struct {
	db      *gorm.DB // a session of the caller's DB; never mutated
	dialect dialect
	clock   func() time.Time
	hasher  secret.Hasher
	prefix  string
	batch   int
	t       tables
}

var _ storage.Storage = (*Store)(nil)

// Option configures [New].
type Option func(*options)

type options struct {
	clock   func() time.Time
	hasher  secret.Hasher
	prefix  string
	batch   int
	migrate bool
}

// WithClock sets the clock every expiry decision uses (default time.Now).
// The database's own clock is never consulted.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.clock = clock } }

// WithHasher sets the hasher of client secrets (default [secret.Default]).
func WithHasher(h secret.Hasher) Option { return func(o *options) { o.hasher = h } }

// WithTablePrefix sets the prefix of the store's table and index names
// (default [DefaultTablePrefix]). It must be at most 32 ASCII letters,
// digits and underscores, not starting with a digit; it may be empty.
// Stores with different prefixes in one database are independent.
func WithTablePrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithoutMigrate makes [New] leave the schema alone, for deployments that
// apply the files in migrations/ with their own tool. New still checks that
// the schema version table reports [SchemaVersion].
func WithoutMigrate() Option { return func(o *options) { o.migrate = false } }

// WithPurgeBatchSize sets how many rows each DELETE statement of
// [Store.PurgeExpired] removes at most (default [DefaultPurgeBatchSize]), so
// that a large purge never holds locks on many rows at once. It must be
// positive.
func WithPurgeBatchSize(n int) Option { return func(o *options) { o.batch = n } }

var prefixRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]{0,31})?$`)

// New returns a store on db, creating or upgrading its schema to
// [SchemaVersion] unless [WithoutMigrate] is given.
//
// db may be opened with gorm.io/driver/sqlite, gorm.io/driver/postgres or
// gorm.io/driver/mysql (MySQL 8 or MariaDB 10.5+). The store works on a
// session of db: the caller's *gorm.DB, its logger, naming strategy and
// other settings are neither used for naming nor changed. Its logger still
// sees the store's SQL, whose bound values are digests, hashes, client IDs
// and metadata, never a secret, code or token.
func New(ctx context.Context, db *gorm.DB, opts ...Option) (*Store, error) {
	if err := storage.CtxErr(ctx, "gormstore: new"); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("gormstore: new: nil *gorm.DB")
	}
	o := options{clock: time.Now, hasher: secret.Default(), prefix: DefaultTablePrefix, batch: DefaultPurgeBatchSize, migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		return nil, errors.New("gormstore: new: nil clock")
	}
	if o.hasher == nil {
		return nil, errors.New("gormstore: new: nil hasher")
	}
	if !prefixRE.MatchString(o.prefix) {
		return nil, fmt.Errorf("gormstore: new: table prefix %q is not up to 32 letters, digits and underscores", o.prefix)
	}
	if o.batch <= 0 {
		return nil, fmt.Errorf("gormstore: new: purge batch size %d is not positive", o.batch)
	}
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	s := &Store{
		// NewDB drops any conditions the caller's DB carries; Session
		// copies its Config, so nothing the store does reaches the caller.
		db:      db.Session(&gorm.Session{NewDB: true}),
		dialect: d,
		clock:   o.clock,
		hasher:  o.hasher,
		prefix:  o.prefix,
		batch:   o.batch,
		t:       tablesFor(o.prefix),
	}
	if o.migrate {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	v, err := s.InstalledSchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v != SchemaVersion {
		return nil, fmt.Errorf("gormstore: new: schema version %d, want %d (migration disabled): %w", v, SchemaVersion, ErrSchemaVersion)
	}
	return s, nil
}

// tables holds the prefixed table names.
type tables struct {
	version, clients, codes, tokens string
}

func tablesFor(prefix string) tables {
	return tables{
		version: prefix + "schema_version",
		clients: prefix + "clients",
		codes:   prefix + "codes",
		tokens:  prefix + "tokens",
	}
}

// dialect is one of the three SQL dialects the store speaks.
type dialect string

const (
	sqliteDialect   dialect = "sqlite"
	postgresDialect dialect = "postgres"
	mysqlDialect    dialect = "mysql"
)

func dialectOf(db *gorm.DB) (dialect, error) {
	if db.Dialector == nil {
		return "", fmt.Errorf("%w: no dialector", ErrUnsupportedDialect)
	}
	switch name := db.Dialector.Name(); name {
	case "sqlite", "sqlite3":
		return sqliteDialect, nil
	case "postgres", "pgx":
		return postgresDialect, nil
	case "mysql":
		return mysqlDialect, nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupportedDialect, name)
	}
}

// with returns the store's session bound to ctx.
func (s *Store) with(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now returns the store clock's current instant.
func (s *Store) now() time.Time { return s.clock() }

// ms returns t as unix milliseconds, the form instants are stored in.
// Callers pass instants already truncated to [storage.Precision].
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS returns the UTC instant of unix milliseconds v.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// ceilMS returns now in unix milliseconds rounded up. A stored instant e
// (whole milliseconds) is past at now, now.After(e), exactly when
// e < ceilMS(now): SQL comparisons with it agree with the Go ones.
func ceilMS(now time.Time) int64 {
	v := now.UnixMilli()
	if now.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}
