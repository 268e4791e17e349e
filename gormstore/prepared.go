package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"gorm.io/gorm"
)

// stmtPool is the connection pool of the store's data session: a
// gorm.ConnPool over the caller's *sql.DB that runs each statement through
// a *sql.Stmt prepared once (per connection, by database/sql) and kept
// until [Store.Close]. It only ever sees the store's own fixed statements
// (see queries), so the set it keeps is small and bounded; migrations, the
// schema-version check and the variable-length statements of the MySQL
// purge go through the unprepared session.
//
// It is the store's own, not gorm's PreparedStmtDB, for three reasons: the
// latter's cache lives in the caller's DB (shared with every PrepareStmt
// session of it, so closing it would close the caller's statements), it
// starts a goroutine that never ends, and statements first prepared inside
// a transaction are prepared again in every later one.
type stmtPool struct {
	db *sql.DB

	mu     sync.RWMutex // guards stmts and closed; never held during I/O
	stmts  map[string]*sql.Stmt
	closed bool
	// inUse counts the statements handed out and not yet run, so that
	// close waits for them before closing.
	inUse sync.WaitGroup
}

var (
	_ gorm.ConnPool         = (*stmtPool)(nil)
	_ gorm.ConnPoolBeginner = (*stmtPool)(nil)
	_ gorm.GetDBConnector   = (*stmtPool)(nil)
	_ gorm.ConnPool         = (*stmtTx)(nil)
	_ gorm.TxCommitter      = (*stmtTx)(nil)
	_ gorm.GetDBConnector   = (*stmtTx)(nil)
)

func newStmtPool(db *sql.DB) *stmtPool {
	return &stmtPool{db: db, stmts: make(map[string]*sql.Stmt)}
}

// prepareAll prepares queries ahead of use, so that a transaction finds
// them (see [stmtTx]). A query that fails to prepare is left to be
// prepared on first use, which reports the error.
func (p *stmtPool) prepareAll(ctx context.Context, queries []string) {
	for _, q := range queries {
		if st, err := p.acquire(ctx, q); err == nil && st != nil {
			p.inUse.Done()
		}
	}
}

// cached returns query's statement if it is prepared already, for the
// caller to run and then call p.inUse.Done; else nil.
func (p *stmtPool) cached(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	st := p.stmts[query]
	if st != nil {
		p.inUse.Add(1)
	}
	return st
}

// acquire returns query's statement, preparing it on first use. The
// caller runs it, then calls p.inUse.Done. It returns nil once the pool is
// closed: the caller then runs the query unprepared. A failed preparation
// (for example of a table not created yet) is returned and not remembered.
//
// No lock is held while a statement is prepared or run: a statement may
// wait for a database lock that a transaction holds (SQLite's write lock),
// and that transaction's own next statement must be able to get here.
func (p *stmtPool) acquire(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.RLock()
	st, ok := p.stmts[query]
	if ok || p.closed {
		if st != nil {
			p.inUse.Add(1)
		}
		p.mu.RUnlock()
		return st, nil
	}
	p.mu.RUnlock()
	// Prepared outside the lock; a concurrent duplicate is closed.
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = st.Close()
		return nil, nil
	}
	if old, ok := p.stmts[query]; ok {
		_ = st.Close()
		st = old
	} else {
		p.stmts[query] = st
	}
	p.inUse.Add(1)
	return st, nil
}

func (p *stmtPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.acquire(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return p.db.ExecContext(ctx, query, args...)
	}
	defer p.inUse.Done()
	return st.ExecContext(ctx, args...)
}

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.acquire(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return p.db.QueryContext(ctx, query, args...)
	}
	defer p.inUse.Done()
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query unprepared if preparing it failed: gorm's
// ConnPool can report an error only through the row, which the unprepared
// run does (or it succeeds if the cause has gone). The row has run its
// query when it returns; closing the statement while the row is unread is
// safe (database/sql defers its final close).
func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.acquire(ctx, query)
	if err != nil || st == nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	defer p.inUse.Done()
	return st.QueryRowContext(ctx, args...)
}

// PrepareContext prepares a statement the caller owns, as *sql.DB does.
func (p *stmtPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

// BeginTx starts a transaction whose statements reuse the pool's prepared
// statements on the transaction's connection.
func (p *stmtPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &stmtTx{pool: p, tx: tx}, nil
}

// GetDBConn returns the *sql.DB, for gorm's DB.DB.
func (p *stmtPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

// close closes every prepared statement, once those handed out have run;
// statements run afterwards are not prepared.
func (p *stmtPool) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	stmts := p.stmts
	p.stmts = nil
	p.mu.Unlock()
	p.inUse.Wait()
	var errs []error
	for _, st := range stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stmtTx is a transaction of a [stmtPool]: its statements are the pool's,
// bound to the transaction with [sql.Tx.StmtContext], which reuses the
// statement already prepared on the transaction's connection (or prepares
// it there once, for later use too). A statement the pool has not prepared
// runs unprepared: preparing it for the pool would need a second
// connection while the transaction holds one, which a pool of one
// connection never frees.
type stmtTx struct {
	pool *stmtPool
	tx   *sql.Tx
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st := t.pool.cached(query)
	if st == nil {
		return t.tx.ExecContext(ctx, query, args...)
	}
	defer t.pool.inUse.Done()
	return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st := t.pool.cached(query)
	if st == nil {
		return t.tx.QueryContext(ctx, query, args...)
	}
	defer t.pool.inUse.Done()
	return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st := t.pool.cached(query)
	if st == nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	defer t.pool.inUse.Done()
	return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

func (t *stmtTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *stmtTx) StmtContext(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	return t.tx.StmtContext(ctx, st)
}

func (t *stmtTx) Commit() error   { return t.tx.Commit() }
func (t *stmtTx) Rollback() error { return t.tx.Rollback() }

// GetDBConn returns the pool's *sql.DB, for gorm's DB.DB.
func (t *stmtTx) GetDBConn() (*sql.DB, error) { return t.pool.db, nil }
