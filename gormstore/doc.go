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
// file:/var/lib/app/oauth.db?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate
// with gorm.io/driver/sqlite. PostgreSQL and MySQL need no DSN parameter:
// instants are stored as integers.
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
// under the SHA-256 digest of their credential ([secret.Digest]), in
// unique-indexed columns (code_digest, access_digest, refresh_digest);
// client secrets only as salted slow hashes. client_id and the expiry
// instants (codes.expires_at_ms, tokens.purge_at_ms, see [backendkit.PurgeAt])
// are indexed so that [Store.DeleteClient] and [Store.PurgeExpired] search
// rather than scan. Instants are BIGINT unix milliseconds in UTC, exact
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
// # Concurrency
//
// The database arbitrates, so several processes may share it.
// [Store.ConsumeAuthorizationCode] is one conditional UPDATE ... WHERE
// used = FALSE whose affected-row count picks exactly one winner at any
// isolation level; [Store.RevokeToken] likewise. Creates are single
// INSERTs whose unique indexes reject a taken credential as a whole: a
// token whose refresh token is taken leaves no row. Unique violations of
// every driver become [storage.ErrAlreadyExists]. Writes the database
// aborts to break a deadlock are run again.
//
// # Purging
//
// [Store.PurgeExpired] deletes in batches of at most [WithPurgeBatchSize]
// rows per statement, so a large purge never holds many locks at once.
// [Store.StartPurger] runs it periodically in a goroutine that
// [Purger.Stop] ends and waits for; errors go to a callback.
//
// # Credentials
//
// No plaintext secret, code or token is written to the database, bound as
// a query parameter (so none reaches gorm's logger), or put in an error.
package gormstore
