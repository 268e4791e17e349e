// Package gormstore is a [storage.Storage] on SQLite, PostgreSQL or
// MySQL/MariaDB, reached through a *gorm.DB the application already has.
//
// # Opening
//
// [New] takes the application's *gorm.DB and works on a session of it: it
// never changes the caller's DB, logger or naming strategy. It creates or
// upgrades the schema unless [WithoutMigrate] is given; [WithTablePrefix]
// lets several stores, or other applications, share a database;
// [WithClock] injects the clock every expiry decision uses (the database's
// clock is never asked); [WithHasher] chooses the client-secret hasher.
//
//	db, _ := gorm.Open(postgres.Open(dsn), &gorm.Config{})
//	store, err := gormstore.New(ctx, db)
//
// SQLite must be file-backed in WAL mode with a busy timeout, for example
// file:/var/lib/app/oauth.db?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL
// with gorm.io/driver/sqlite, and its pool should have one connection
// (sqlDB.SetMaxOpenConns(1) on db.DB()). With several connections, SQLite
// can never start its write-ahead log over while writers keep coming (some
// connection always holds a snapshot), so the -wal file grows without
// bound: 106 MB after 6,000 writes of 4 goroutines, for a 3 MB database.
// With one, each automatic checkpoint (every 1000 pages) completes and the
// WAL stays near 4 MB, at the cost of concurrency between reads (writes
// are serialised by SQLite anyway): about 3,700 instead of 6,000 writes a
// second in that test (TestSQLiteWALBounded). The store never needs two
// connections at once. synchronous=NORMAL (the driver's default, written
// out) keeps every committed write across a crash of the process, but a
// power loss or an operating-system crash can lose the transactions
// committed since the last checkpoint (the database itself stays
// consistent); _synchronous=FULL syncs the WAL at every commit and loses
// nothing acknowledged, at about a sixth of the write rate on the test
// machine. PostgreSQL and MySQL need no DSN parameter: instants are stored
// as integers.
//
// # Prepared statements
//
// The store prepares its data statements once per connection and reuses
// them, on a session of its own (the caller's DB is not switched to
// PrepareStmt); migrations never use them. [Store.Close] releases them
// (it does not close the caller's DB). Behind a connection pooler in
// transaction or statement mode (PgBouncer, pgcat), where a statement
// prepared on one server connection is missing on the next, pass
// [WithoutPreparedStatements].
//
// # Schema
//
// Four tables, named with the prefix ([DefaultTablePrefix] by default):
// schema_version, clients, codes and tokens. Codes and tokens are stored
// under the SHA-256 digest of their credential ([secret.Digest]), or its
// HMAC-SHA-256 under the current key with [WithDigestKeys], in
// unique-indexed columns (code_digest, access_digest, refresh_digest);
// client secrets only as salted slow hashes. client_id and the expiry
// instants (codes.expires_at_ms, tokens.purge_at_ms, see [backendkit.PurgeAt])
// are indexed so that [Store.DeleteClient] and [Store.PurgeExpired] search
// rather than scan, and grant_id, on codes and tokens, so that the grant
// operations do. Instants are BIGINT unix milliseconds in UTC, exact
// and portable; lists (grant types, response types, redirect URIs) are JSON
// arrays in TEXT columns. Every lookup is one query on a unique index.
//
// # Migrations
//
// The schema is versioned ([SchemaVersion]); each version is a plain SQL
// file per dialect in the migrations directory, embedded as [Migrations].
// [New] applies the files newer than the version recorded in the
// schema_version table, under a lock, so that replicas starting together
// migrate once. Teams with their own migration tool apply the same files
// and pass [WithoutMigrate]; New then only checks the recorded version.
//
// Version 3 adds grants: a NOT NULL grant_id on codes and tokens, and
// tokens.rotated_at_ms. Codes and tokens stored under version 2 belong to
// no grant; the upgrade gives each one a grant of its own, derived from its
// row id ("v2-code-" or "v2-token-" and the id in 20 digits), so that no two
// legacy records share a grant and revoking or reusing one never reaches
// another. A token rotated from a legacy pair inherits its grant. grant_id
// has no default: stop version-2 processes before upgrading, or their
// INSERTs fail.
//
// Version 4 adds client management: clients.previous_secret_hash and
// clients.previous_valid_until_ms (NULL for existing clients), an index on
// (user_id, client_id) for the owner filter of [Store.ListClients] (on
// MySQL user_id becomes VARBINARY(255) for it), and on PostgreSQL indexes
// on client_id COLLATE "C", the bytewise order ListClients uses whatever
// the database's collation. Every row is kept.
//
// # Managing clients
//
// The store implements [storage.ClientManager] and [storage.StatsReporter].
// [Store.RotateClientSecret] hashes the new secret first, then one UPDATE
// moves the current hash to the previous-secret columns and sets the new
// one, atomically; [Store.AuthenticateClient] verifies with
// [backendkit.ClientAuth] (the previous secret until the end of its
// overlap; a dummy hash for unknown and public clients, so that failures
// take the same time). [Store.ListClients] pages by client ID (keyset,
// bytewise); [Store.RevokeClientTokens] runs its UPDATEs by client_id in
// one transaction; [Store.Stats] groups codes and tokens by client ID and
// sums their states with CASE at the store clock's now.
//
// # Grants and rotation
//
// Every code and token carries a GrantID (a new random one if created
// without). [Store.RotateToken] exchanges a refresh token for a new pair:
// a conditional UPDATE ... WHERE refresh_digest = ? AND revoked = FALSE
// AND refresh_expires_at_ms >= ?, which also requires the rules of
// [backendkit.Successor] (the same client and grant), revokes the old pair
// and records when (rotated_at_ms), and the new pair is INSERTed in the
// old one's grant. On PostgreSQL both are one statement, one round trip
// (a data-modifying CTE: WITH old AS (UPDATE ... RETURNING) INSERT ...
// SELECT ... FROM old); on SQLite and MySQL, which have none, the UPDATE
// and an INSERT ... SELECT by refresh_digest run in one transaction. Both
// writes or neither: a taken credential aborts the statement or rolls the
// transaction back ([storage.ErrAlreadyExists]) and leaves the old pair
// live. The UPDATE's changed row picks one winner among concurrent
// callers on every database; the others find the pair revoked once the
// winner has committed. On MySQL the transaction runs at READ COMMITTED,
// so that InnoDB takes no gap locks in it (with binary logging on,
// binlog_format must then be ROW or MIXED). Rotating a revoked pair
// (rotated before, or revoked) is a reuse: one UPDATE ... WHERE grant_id = ?
// revokes every token of the grant, the winner's new pair included, and the
// error matches [storage.ErrRevoked]. [WithReuseInterval] gives a grace
// after a rotation in which a replay fails the same way without revoking
// the grant.
// [Store.ConsumeAuthorizationCode] of a used code revokes its grant's
// tokens the same way; [Store.RevokeGrant] revokes them and marks the
// grant's unused codes used, in one transaction.
//
// # Concurrency
//
// The database arbitrates, so several processes may share it.
// [Store.ConsumeAuthorizationCode] is one conditional UPDATE ... WHERE
// used = FALSE that picks exactly one winner at any isolation level; on
// PostgreSQL and SQLite it returns the row (UPDATE ... RETURNING), on
// MySQL the winner reads it with a context the caller's cancellation does
// not end, so that a consumed code always reaches its winner; [Store.RevokeToken] and the rotation's UPDATE likewise.
// Creates are single INSERTs whose unique indexes reject a taken credential
// as a whole: a token whose refresh token is taken leaves no row. Unique
// violations of every driver become [storage.ErrAlreadyExists].
// Transactions and writes the database aborts to break a deadlock are run
// again.
//
// # Purging
//
// [Store.PurgeExpired] deletes in batches of at most [WithPurgeBatchSize]
// rows per statement, so a large purge never holds many locks at once.
// Package purger runs it periodically in the background, for this store as
// for any other; errors go to a callback.
//
// # Credentials
//
// No plaintext secret, code or token is written to the database, bound as
// a query parameter (so none reaches gorm's logger), or put in an error.
// Client secret hashes and PKCE challenges are bound as parameters, but
// the store's session has its own logger, the caller's wrapped to
// implement gorm's ParamsFilter: they show as "[REDACTED]" in gorm's logs
// while the database gets the real values.
package gormstore
