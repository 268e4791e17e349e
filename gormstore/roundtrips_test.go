package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	sqlite3 "github.com/mattn/go-sqlite3"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// trips is what the database driver was asked to do for one operation:
// statements run (through a prepared statement or not), transactions
// begun, committed and rolled back, and statements prepared.
type trips struct {
	stmts, begins, commits, rollbacks, prepares int64
}

// roundTrips is the client-server exchanges of t, at least: every
// statement, BEGIN, COMMIT and ROLLBACK is one. (Drivers may add exchanges
// the wrapper cannot see: go-sql-driver/mysql sends SET TRANSACTION
// ISOLATION LEVEL before START TRANSACTION when an isolation level is
// asked for, and pgx pings a connection that was idle for over a second
// when database/sql takes it from the pool.)
func (t trips) roundTrips() int64 { return t.stmts + t.begins + t.commits + t.rollbacks }

func (t trips) String() string {
	return fmt.Sprintf("%d statements, %d BEGIN, %d COMMIT, %d ROLLBACK, %d prepared", t.stmts, t.begins, t.commits, t.rollbacks, t.prepares)
}

// driverCounts counts what a countingConnector's connections are asked to
// do.
type driverCounts struct {
	connStmts, preparedStmts         atomic.Int64 // statements run on the connection, through a prepared statement
	begins, commits, rollbacks, prep atomic.Int64
}

func (c *driverCounts) snapshot() trips {
	return trips{
		stmts:  c.connStmts.Load() + c.preparedStmts.Load(),
		begins: c.begins.Load(), commits: c.commits.Load(), rollbacks: c.rollbacks.Load(),
		prepares: c.prep.Load(),
	}
}

func (t trips) minus(u trips) trips {
	return trips{t.stmts - u.stmts, t.begins - u.begins, t.commits - u.commits, t.rollbacks - u.rollbacks, t.prepares - u.prepares}
}

// countingConnector wraps a database/sql driver: its connections, their
// prepared statements and transactions count every call that reaches the
// database, whatever gorm or the store's statement pool do above it.
type countingConnector struct {
	base driver.Connector
	c    *driverCounts
}

func (k countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{conn, k.c}, nil
}

func (k countingConnector) Driver() driver.Driver { return k.base.Driver() }

// dsnConnector is a driver.Connector of a driver without one (mattn's).
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (d dsnConnector) Connect(context.Context) (driver.Conn, error) { return d.drv.Open(d.dsn) }
func (d dsnConnector) Driver() driver.Driver                        { return d.drv }

// countingConn forwards every optional interface database/sql uses, so
// that the wrapped driver behaves as it does unwrapped.
type countingConn struct {
	base driver.Conn
	c    *driverCounts
}

var (
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
)

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		st  driver.Stmt
		err error
	)
	if p, ok := c.base.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.base.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	c.c.prep.Add(1)
	return &countingStmt{st, c.c}, nil
}

func (c *countingConn) Close() error { return c.base.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.base.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("countingConn: driver without BeginTx")
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.c.begins.Add(1)
	return countingTx{tx, c.c}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.base.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.connStmts.Add(1)
	}
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.base.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.connStmts.Add(1)
	}
	return rows, err
}

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := c.base.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

type countingTx struct {
	base driver.Tx
	c    *driverCounts
}

func (t countingTx) Commit() error   { t.c.commits.Add(1); return t.base.Commit() }
func (t countingTx) Rollback() error { t.c.rollbacks.Add(1); return t.base.Rollback() }

// countingStmt counts the runs of a prepared statement.
type countingStmt struct {
	base driver.Stmt
	c    *driverCounts
}

func (s *countingStmt) Close() error  { return s.base.Close() }
func (s *countingStmt) NumInput() int { return s.base.NumInput() }

func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.c.preparedStmts.Add(1)
	return s.base.Exec(args)
}

func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.c.preparedStmts.Add(1)
	return s.base.Query(args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.preparedStmts.Add(1)
	if e, ok := s.base.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return s.base.Exec(values(args))
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.preparedStmts.Add(1)
	if q, ok := s.base.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return s.base.Query(values(args))
}

func (s *countingStmt) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := s.base.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// openCounted opens a fresh database of dialect d through a counting
// wrapper of its driver, on a pool of one connection (so that every
// statement is prepared once, on it: the counts are of a steady state).
func openCounted(t *testing.T, b backend) (*gorm.DB, *driverCounts) {
	t.Helper()
	dsn := b.openDSN(t)
	var (
		base driver.Connector
		err  error
	)
	switch b.name {
	case sqliteDialect:
		base = dsnConnector{&sqlite3.SQLiteDriver{}, dsn}
	case postgresDialect:
		base, err = stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(dsn)
	case mysqlDialect:
		base, err = (&mysqldriver.MySQLDriver{}).OpenConnector(dsn)
	}
	if err != nil {
		t.Fatalf("connector: %v", err)
	}
	c := new(driverCounts)
	sqlDB := sql.OpenDB(countingConnector{base, c})
	t.Cleanup(func() { _ = sqlDB.Close() })
	sqlDB.SetMaxOpenConns(1)
	var d gorm.Dialector
	switch b.name {
	case sqliteDialect:
		d = sqlite.New(sqlite.Config{Conn: sqlDB})
	case postgresDialect:
		d = postgres.New(postgres.Config{Conn: sqlDB})
	case mysqlDialect:
		d = mysql.New(mysql.Config{Conn: sqlDB})
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("gorm.Open: %v", err)
	}
	return db, c
}

// roundTripTable is what each operation asks of the driver, by database.
// Every statement is one of the store's prepared statements (the test
// checks that none is run unprepared, and that nothing is prepared again).
var roundTripTable = []struct {
	op string
	// Statements on SQLite, PostgreSQL, MySQL/MariaDB, and whether the
	// operation is a transaction there (BEGIN and COMMIT, one exchange
	// each; on MySQL RotateToken's BEGIN is two, see trips.roundTrips).
	sqlite, postgres, mysql    int64
	sqliteTx, postgresTx, myTx bool
}{
	// One INSERT; the unique indexes reject a taken credential.
	{op: "CreateToken", sqlite: 1, postgres: 1, mysql: 1},
	{op: "CreateAuthorizationCode", sqlite: 1, postgres: 1, mysql: 1},
	// One SELECT by a unique index.
	{op: "GetTokenByAccess", sqlite: 1, postgres: 1, mysql: 1},
	{op: "GetTokenByRefresh", sqlite: 1, postgres: 1, mysql: 1},
	{op: "GetAuthorizationCode", sqlite: 1, postgres: 1, mysql: 1},
	// UPDATE ... RETURNING; MySQL has no RETURNING: the UPDATE, then the
	// winner's read.
	{op: "ConsumeAuthorizationCode", sqlite: 1, postgres: 1, mysql: 2},
	// PostgreSQL: one data-modifying CTE (UPDATE ... RETURNING feeding
	// the INSERT). SQLite and MySQL: the conditional UPDATE and INSERT ...
	// SELECT in one transaction.
	{op: "RotateToken", sqlite: 2, postgres: 1, mysql: 2, sqliteTx: true, myTx: true},
	// The conditional UPDATE changes the row.
	{op: "RevokeToken", sqlite: 1, postgres: 1, mysql: 1},
	// The UPDATE changes nothing; a COUNT tells revoked from unknown.
	{op: "RevokeToken of a revoked token", sqlite: 2, postgres: 2, mysql: 2},
	// The UPDATE changes nothing (its transaction, where there is one,
	// commits nothing), the read finds the pair rotated, and one UPDATE
	// by grant_id revokes the grant.
	{op: "RotateToken reuse", sqlite: 3, postgres: 3, mysql: 3, sqliteTx: true, myTx: true},
	// The UPDATE's successor conditions refuse it; the read says why.
	{op: "RotateToken for another client", sqlite: 2, postgres: 2, mysql: 2, sqliteTx: true, myTx: true},
	// The UPDATE changes nothing; the read finds the code used; one
	// UPDATE by grant_id revokes the grant's tokens.
	{op: "ConsumeAuthorizationCode replay", sqlite: 3, postgres: 3, mysql: 3},
}

// TestRoundTrips counts, through a wrapper of the database/sql driver,
// what each operation asks of the database, and checks it against
// roundTripTable (gormstore/README.md shows the same table).
func TestRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db, c := openCounted(t, b)
		s := newStore(t, db, newTestClock())
		if s.pool == nil {
			t.Fatal("the store prepares no statements")
		}
		code := func(name string) *models.AuthorizationCode {
			return &models.AuthorizationCode{Code: name, ClientID: "c1", RedirectURI: "https://app.example/cb",
				ResponseType: "code", AuthTime: epoch, ExpiresIn: time.Minute}
		}
		wantErr := func(err, want error) error {
			if !errors.Is(err, want) {
				return fmt.Errorf("error %v, want %v", err, want)
			}
			return nil
		}
		// Fixtures, made before counting.
		for _, err := range []error{
			s.CreateToken(ctx, token("live-a", "live-r")),
			s.CreateToken(ctx, token("old-a", "old-r")),
			s.CreateToken(ctx, token("revoked-a", "revoked-r")),
			s.CreateToken(ctx, token("mismatch-a", "mismatch-r")),
			s.RevokeToken(ctx, "revoked-a"),
			s.CreateAuthorizationCode(ctx, code("live-code")),
			s.CreateAuthorizationCode(ctx, code("to-consume")),
		} {
			if err != nil {
				t.Fatalf("fixture: %v", err)
			}
		}
		other := token("other-a", "other-r")
		other.ClientID = "c2"
		ops := map[string]func() error{
			"CreateToken":             func() error { return s.CreateToken(ctx, token("new-a", "new-r")) },
			"CreateAuthorizationCode": func() error { return s.CreateAuthorizationCode(ctx, code("new-code")) },
			"GetTokenByAccess":        func() error { _, err := s.GetTokenByAccess(ctx, "live-a"); return err },
			"GetTokenByRefresh":       func() error { _, err := s.GetTokenByRefresh(ctx, "live-r"); return err },
			"GetAuthorizationCode":    func() error { _, err := s.GetAuthorizationCode(ctx, "live-code"); return err },
			"ConsumeAuthorizationCode": func() error {
				_, err := s.ConsumeAuthorizationCode(ctx, "to-consume")
				return err
			},
			"RotateToken":                    func() error { return s.RotateToken(ctx, "old-r", token("next-a", "next-r")) },
			"RevokeToken":                    func() error { return s.RevokeToken(ctx, "live-a") },
			"RevokeToken of a revoked token": func() error { return s.RevokeToken(ctx, "revoked-a") },
			"RotateToken reuse": func() error {
				return wantErr(s.RotateToken(ctx, "old-r", token("reuse-a", "reuse-r")), storage.ErrRevoked)
			},
			"RotateToken for another client": func() error {
				return wantErr(s.RotateToken(ctx, "mismatch-r", other), storage.ErrInvalid)
			},
			"ConsumeAuthorizationCode replay": func() error {
				_, err := s.ConsumeAuthorizationCode(ctx, "to-consume")
				return wantErr(err, storage.ErrAlreadyUsed)
			},
		}
		// In the table's order: the reuse follows the rotation, the replay
		// the consumption, the revocation the lookups.
		var rows []string
		prepared := c.preparedStmts.Load()
		for _, row := range roundTripTable {
			f := ops[row.op]
			if f == nil {
				t.Fatalf("no operation %q", row.op)
			}
			want := map[dialect]struct {
				n  int64
				tx bool
			}{
				sqliteDialect:   {row.sqlite, row.sqliteTx},
				postgresDialect: {row.postgres, row.postgresTx},
				mysqlDialect:    {row.mysql, row.myTx},
			}[b.name]
			unprepared := c.connStmts.Load()
			before := c.snapshot()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", row.op, err)
			}
			got := c.snapshot().minus(before)
			rows = append(rows, fmt.Sprintf("%-34s %s", row.op, got))
			wantTx := int64(0)
			if want.tx {
				wantTx = 1
			}
			if got.stmts != want.n || got.begins != wantTx || got.commits != wantTx || got.rollbacks != 0 {
				t.Errorf("%s: %s; want %d statements and %d transactions", row.op, got, want.n, wantTx)
			}
			if got.prepares != 0 {
				t.Errorf("%s: %d statements prepared, want none (prepared by New)", row.op, got.prepares)
			}
			if n := c.connStmts.Load() - unprepared; n != 0 {
				t.Errorf("%s: %d statements run unprepared, want none", row.op, n)
			}
		}
		// The counts above are of prepared statements: the wrapper saw
		// them run.
		if c.preparedStmts.Load() == prepared {
			t.Error("no prepared statement was counted")
		}
		t.Logf("%s:\n%s", b.name, strings.Join(rows, "\n"))
	})
}
