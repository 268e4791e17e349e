package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
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
//
// By default its data statements are prepared once and reused (see
// [WithoutPreparedStatements]); [Store.Close] releases them.
type Store struct {
	db      *gorm.DB  // a session of the caller's DB, unprepared: schema work; never mutated
	data    *gorm.DB  // the session of the data statements: db on a stmtPool, or db itself
	pool    *stmtPool // the prepared statements of data; nil without them
	q       queries
	dialect dialect
	clock   func() time.Time
	hasher  secret.Hasher
	auth    *backendkit.ClientAuth // hashes and verifies client secrets with hasher
	cred    backendkit.Credentials // digests and checks codes and tokens
	prefix  string
	batch   int
	reuse   time.Duration // reuse interval of RotateToken; 0: none
	t       tables
	// returning: the database has UPDATE ... RETURNING (PostgreSQL,
	// SQLite 3.35+), which ConsumeAuthorizationCode uses.
	returning bool
	// testHookConsumed, if set (by tests), runs when
	// ConsumeAuthorizationCode's UPDATE has consumed the code.
	testHookConsumed func(ctx context.Context)
	// testHookDeleteTx, if set (by tests), runs at the end of DeleteClient's
	// transaction, before it commits.
	testHookDeleteTx func(ctx context.Context)
}

var _ backendkit.Backend = (*Store)(nil)

// Option configures [New].
type Option func(*options)

type options struct {
	backendkit.Options // the options every backend has
	prefix             string
	batch              int
	migrate            bool
	prepare            bool
}

// WithClock sets the clock every expiry decision uses (default time.Now;
// nil keeps it). The database's own clock is never consulted.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.SetClock(clock) } }

// WithHasher sets the hasher of client secrets (default [secret.Default];
// nil keeps it).
func WithHasher(h secret.Hasher) Option { return func(o *options) { o.SetHasher(h) } }

// WithDigestKeys makes the store key codes and tokens by their HMAC-SHA-256
// under keys (see [secret.Keyed]) instead of their SHA-256: the current key
// for the rows it writes, every key, current first, for the rows it looks
// up. A rotation with [secret.Keyed.SetKeys] takes effect at the next
// call. nil keeps the default, unkeyed digests. The schema is the same
// either way: a digest column holds 64 hex digits.
func WithDigestKeys(keys *secret.Keyed) Option { return func(o *options) { o.SetDigestKeys(keys) } }

// WithMinCredentialLength makes CreateAuthorizationCode, CreateToken and
// RotateToken reject, with [storage.ErrInvalid], a code or token shorter
// than n bytes. The default, 0 (as any n <= 0), accepts any length.
func WithMinCredentialLength(n int) Option {
	return func(o *options) { o.SetMinCredentialLength(n) }
}

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

// WithoutPreparedStatements makes the store send every statement
// unprepared, as gorm does by default. By default the store prepares each
// of its data statements (lookups, creates, updates, deletes) once per
// connection and reuses it, which saves the database parsing and planning
// it again, and, on MySQL/MariaDB without interpolateParams, two of the
// three round trips of every statement. Turn it off behind a connection
// pooler that hands each transaction or statement to any server connection
// (PgBouncer or pgcat in transaction or statement mode, ProxySQL with
// multiplexing): a statement prepared on one server connection does not
// exist on the next. Migrations never use prepared statements.
func WithoutPreparedStatements() Option { return func(o *options) { o.prepare = false } }

// WithReuseInterval sets the reuse interval of [Store.RotateToken]
// (default 0, none): for d after a refresh token was rotated, a replay of
// it fails with [storage.ErrRevoked] without revoking its grant, for
// clients that retry a refresh whose response they lost. After d, or for a
// pair revoked rather than rotated, a replay revokes the grant. A
// non-positive d means none.
func WithReuseInterval(d time.Duration) Option { return func(o *options) { o.SetReuseInterval(d) } }

var prefixRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]{0,31})?$`)

// New returns a store on db, creating or upgrading its schema to
// [SchemaVersion] unless [WithoutMigrate] is given.
//
// db may be opened with gorm.io/driver/sqlite, gorm.io/driver/postgres or
// gorm.io/driver/mysql (MySQL 8 or MariaDB 10.5+). The store works on a
// session of db: the caller's *gorm.DB, its logger, naming strategy and
// other settings are neither used for naming nor changed. Its logger still
// sees the store's SQL, whose bound values are digests, client IDs and
// metadata, never a secret, code or token; the session's logger wraps the
// caller's so that the hashes of client secrets and plain PKCE challenges
// show as "[REDACTED]" in it.
func New(ctx context.Context, db *gorm.DB, opts ...Option) (*Store, error) {
	if err := backendkit.CtxErr(ctx, "gormstore: new"); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("gormstore: new: nil *gorm.DB")
	}
	o := options{prefix: DefaultTablePrefix, batch: DefaultPurgeBatchSize, migrate: true, prepare: true}
	for _, opt := range opts {
		opt(&o)
	}
	if !prefixRE.MatchString(o.prefix) {
		return nil, fmt.Errorf("gormstore: new: table prefix %q is not up to 32 letters, digits and underscores: %w", o.prefix, storage.ErrInvalid)
	}
	if o.batch <= 0 {
		return nil, fmt.Errorf("gormstore: new: purge batch size %d is not positive: %w", o.batch, storage.ErrInvalid)
	}
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	t := tablesFor(o.prefix)
	s := &Store{
		// NewDB drops any conditions the caller's DB carries; Session
		// copies its Config, so nothing the store does reaches the caller.
		// The session's logger is the caller's, wrapped to keep secret
		// hashes and plain PKCE challenges out of it (redactingLogger).
		db:      db.Session(&gorm.Session{NewDB: true, Logger: redactLogger(db.Logger)}),
		q:       queriesFor(d, t, o.batch),
		dialect: d,
		clock:   o.Clock(),
		hasher:  o.Hasher(),
		auth:    o.ClientAuth(),
		cred:    o.Credentials(),
		prefix:  o.prefix,
		batch:   o.batch,
		reuse:   o.ReuseInterval(),
		t:       t,
	}
	s.data = s.db
	if o.prepare {
		s.data, s.pool = preparedSession(s.db)
	}
	if o.migrate {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	} else {
		v, err := s.InstalledSchemaVersion(ctx)
		if err != nil {
			return nil, err
		}
		if v != SchemaVersion {
			return nil, fmt.Errorf("gormstore: new: schema version %d, want %d (migration disabled): %w", v, SchemaVersion, ErrSchemaVersion)
		}
	}
	if s.returning, err = hasReturning(ctx, s.db, d); err != nil {
		return nil, err
	}
	if s.pool != nil {
		// Once the tables exist: transactions use only statements
		// prepared beforehand.
		s.pool.prepareAll(ctx, s.q.data())
	}
	return s, nil
}

// hasReturning reports whether the database runs UPDATE ... RETURNING:
// PostgreSQL does, MySQL and MariaDB do not (MariaDB only on INSERT and
// DELETE), SQLite from 3.35.0.
func hasReturning(ctx context.Context, db *gorm.DB, d dialect) (bool, error) {
	switch d {
	case postgresDialect:
		return true, nil
	case sqliteDialect:
		var v string
		if err := db.WithContext(ctx).Raw("SELECT sqlite_version()").Row().Scan(&v); err != nil {
			return false, dbError("new: reading the SQLite version", err)
		}
		var major, minor int
		if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
			return false, nil
		}
		return major > 3 || major == 3 && minor >= 35, nil
	default:
		return false, nil
	}
}

// preparedSession returns a session of base whose statements run through
// a [stmtPool] of its own, and that pool. The caller's DB, base, and the
// prepared-statement cache gorm keeps for PrepareStmt sessions are left
// alone. If base's pool is not a *sql.DB (base is inside a transaction, or
// on a custom gorm.ConnPool), it returns base and nil: nothing is prepared.
func preparedSession(base *gorm.DB) (*gorm.DB, *stmtPool) {
	conn := base.Statement.ConnPool
	if p, ok := conn.(*gorm.PreparedStmtDB); ok {
		// A PrepareStmt DB or session: use its *sql.DB, not its cache.
		conn = p.ConnPool
	}
	sqlDB, ok := conn.(*sql.DB)
	if !ok || sqlDB == nil {
		return base, nil
	}
	pool := newStmtPool(sqlDB)
	// A Context makes Session clone the Statement, so that setting its
	// ConnPool changes this session only; Config is copied by Session.
	data := base.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	data.Statement.ConnPool = pool
	data.Config.ConnPool = pool
	return data, pool
}

// Close releases the store's prepared statements (see
// [WithoutPreparedStatements]), once the statements under way have run.
// It does not close the caller's *gorm.DB or its connections, nor stop a
// background purger (package purger: stop it first). The store remains usable after Close,
// without prepared statements. Close is idempotent and safe for concurrent
// use.
func (s *Store) Close() error {
	if s.pool == nil {
		return nil
	}
	if err := s.pool.close(); err != nil {
		return dbError("closing prepared statements", err)
	}
	return nil
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

// with returns the store's unprepared session bound to ctx.
func (s *Store) with(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now returns the store clock's current instant.
func (s *Store) now() time.Time { return s.clock() }

// ms returns t as unix milliseconds, the form instants are stored in.
// Callers pass instants already truncated to [backendkit.Precision].
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS returns the UTC instant of unix milliseconds v.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// ceilMS returns now in unix milliseconds rounded up
// ([backendkit.CeilMillis]). A stored instant e (whole milliseconds) is
// past at now, now.After(e), exactly when e < ceilMS(now): SQL comparisons
// with it agree with the Go ones.
func ceilMS(now time.Time) int64 { return backendkit.CeilMillis(now) }
