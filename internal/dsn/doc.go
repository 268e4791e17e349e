// Package dsn opens the oauthstore backend a data source name (DSN) names:
// one string that an operator gives a command (examples/authserver's -dsn,
// an operator CLI) to choose a backend and reach its database.
//
// # DSNs
//
//   - memory: the in-process [memstore] (lost when the process ends).
//   - sqlite:PATH a SQLite file through [gormstore] (created if missing),
//     with WAL journaling, a busy timeout and immediate transactions
//     ([SQLiteDSN]).
//   - postgres://… or postgresql://… PostgreSQL through [gormstore] and
//     gorm's PostgreSQL driver; the URL is passed to pgx as is.
//   - mysql://USER:PASSWORD@HOST:PORT/DB?PARAMS MySQL or MariaDB through
//     [gormstore]; the URL is turned into a go-sql-driver/mysql DSN
//     ([MySQLDSN]).
//   - mongodb://… or mongodb+srv://… MongoDB (or FerretDB) through
//     [mongostore]; the database is the URL's path, [DefaultMongoDatabase]
//     if none.
//   - redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://… Redis or Valkey
//     through redisstore; the key_prefix query parameter sets the store's
//     key prefix.
//
// The scheme is matched case-insensitively. SQL schemas and MongoDB indexes
// are created (migrated) when the store opens.
//
// # Secrets in DSNs
//
// A DSN may hold a database password. No error [Open] returns shows it:
// URL-shaped DSNs are shown with the password replaced ([Redact]), others
// that contain an "@" are not shown at all. Use [Redact] to log a DSN.
package dsn
