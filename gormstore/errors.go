package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/storage"
)

// Errors New returns besides the database's own.
var (
	// ErrUnsupportedDialect: the *gorm.DB is not SQLite, PostgreSQL or
	// MySQL/MariaDB.
	ErrUnsupportedDialect = errors.New("gormstore: unsupported gorm dialect")
	// ErrSchemaVersion: the database schema is missing, older than
	// [SchemaVersion] while migration is disabled, or newer than this
	// package knows.
	ErrSchemaVersion = errors.New("gormstore: unexpected schema version")
)

// isDuplicate reports whether err is a unique-constraint violation. It asks
// the dialector's error translator first (gorm.io drivers map SQLite
// 1555/2067, PostgreSQL 23505 and MySQL 1062 to gorm.ErrDuplicatedKey), so
// the caller's gorm.Config (TranslateError) is neither needed nor changed,
// and falls back to the messages for dialectors without a translator.
func isDuplicate(db *gorm.DB, err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	if tr, ok := db.Dialector.(gorm.ErrorTranslator); ok {
		if errors.Is(tr.Translate(err), gorm.ErrDuplicatedKey) {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") || // PostgreSQL (pgx)
		strings.Contains(msg, "Error 1062") // MySQL, MariaDB
}

// dbError wraps an unexpected database error with the operation. Database
// errors carry at most digests, hashes and client IDs: the store never binds
// a plaintext credential.
func dbError(op string, err error) error {
	return fmt.Errorf("gormstore: %s: %w", op, err)
}

// txError wraps the error of a transaction. A transaction whose context
// ended before it committed fails with sql.ErrTxDone (database/sql rolled
// it back when the context ended) or, on PostgreSQL, with the driver's
// "i/o timeout" of an expired deadline: both are reported as the
// context's error, which is what happened.
func txError(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) &&
		(errors.Is(err, sql.ErrTxDone) || strings.Contains(err.Error(), "i/o timeout")) {
		return fmt.Errorf("gormstore: %s: %w", op, cerr)
	}
	return dbError(op, err)
}

// notFound returns op's [storage.ErrNotFound].
func notFound(op string) error {
	return fmt.Errorf("gormstore: %s: %w", op, storage.ErrNotFound)
}

// maxAttempts bounds how often a write the database aborted to break a
// deadlock is run.
const maxAttempts = 5

// retry runs f, and runs it again while it fails because the database
// rolled it back to break a deadlock (InnoDB picks single-statement
// transactions as victims too). A rolled-back write did nothing, so running
// it again is safe.
func retry(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == maxAttempts || !isDeadlock(err) || ctx.Err() != nil {
			return err
		}
	}
}

// exec runs one of the store's fixed writing statements (see [queries]) on
// db, in its own transaction, with [retry], and returns its result.
func exec(ctx context.Context, db *gorm.DB, query string, args ...any) *gorm.DB {
	var res *gorm.DB
	_ = retry(ctx, func() error {
		res = execOn(ctx, db, query, args...)
		return res.Error
	})
	return res
}

// isDeadlock reports whether err says the database rolled the transaction
// back to break a deadlock or a serialisation conflict, so that running it
// again may succeed: PostgreSQL 40P01 and 40001, MySQL 1213.
func isDeadlock(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 40P01") || strings.Contains(msg, "SQLSTATE 40001") ||
		strings.Contains(msg, "Error 1213")
}
