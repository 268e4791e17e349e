package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
)

// impl=raw on SQL for BenchmarkConcurrency: gormstore's statements (see
// gormstore/queries.go) written by hand on the *sql.DB gorm opened, so
// the same driver, DSN and pool, prepared once as gormstore prepares its
// data statements by default. Each computes the SHA-256 digests and the
// columns gormstore writes (a new grant ID per pair and per code, the
// purge instant, FALSE flags), so that gormstore reads back what raw
// writes.

// concPool is the MaxOpenConns (and MaxIdleConns) of the pool of sb's
// BenchmarkConcurrency fixture:
//
//   - SQLite: 1, what gormstore/doc.go recommends: one connection keeps
//     the WAL bounded, and SQLite runs one writer at a time anyway.
//   - PostgreSQL and MySQL/MariaDB: 16. An unbounded pool opens one
//     connection per concurrent caller: 256 callers exceed PostgreSQL's
//     default max_connections (100) and MySQL's (151). 16 is a few
//     connections per server core with room for the statements of other
//     instances; BenchmarkPool shows where more stops helping.
//
// MaxIdleConns equals it, so that connections are not closed and
// reopened (and their statements prepared again) under load.
func (sb *sqlBackend) concPool() int {
	if sb.db == "sqlite" {
		return 1
	}
	return 16
}

// setPool sets db's MaxOpenConns and MaxIdleConns to n.
func setPool(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
}

// sqlConcFixture is a concFixture on SQL, with its pool.
type sqlConcFixture struct {
	concFixture
	sqlDB *sql.DB
}

// sqlConc returns the BenchmarkConcurrency fixture of sb: a gormstore on
// a fresh database with small tokens, its pool set to concPool, and raw
// on the same *sql.DB.
func (sb *sqlBackend) sqlConc(tb testing.TB) *sqlConcFixture {
	return once(tb, "conc/gormstore/"+sb.db, func(t testing.TB) *sqlConcFixture {
		ctx := context.Background()
		gdb := sb.open(t)
		db, err := gdb.DB()
		if err != nil {
			t.Fatal(err)
		}
		setPool(db, sb.concPool())
		s, err := gormstore.New(ctx, gdb)
		if err != nil {
			t.Fatalf("gormstore.New on %s: %v", sb.db, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		space := newSpace()
		err = importTokens(ctx, s, small, func(i int) *models.Token {
			tok := tokenAt(space, uint64(i), "")
			return newToken(&tok)
		})
		if err != nil {
			t.Fatalf("filling %d tokens: %v", small, err)
		}
		if err := sb.analyze(ctx, db); err != nil {
			t.Fatal(err)
		}
		raw, err := newRawSQL(ctx, db, sb.db)
		if err != nil {
			t.Fatalf("preparing the raw statements: %v", err)
		}
		t.Cleanup(raw.close)
		o := ours{s}
		f := &sqlConcFixture{
			concFixture: concFixture{store: o, sample: newSample(space, small), release: s.DeleteClient,
				impls: map[string]*concImpl{"gormstore": oursConc(o), "raw": raw.impl()}},
			sqlDB: db,
		}
		if err := warmUp(ctx, &f.concFixture); err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// Column lists and tables of gormstore's statements.
const (
	rawTokenColumns = "client_id, scope, token_type, user_id, grant_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked"
	rawCodeColumns  = "client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms, code_challenge, code_challenge_method, nonce, user_id, grant_id, used"
	rawSuccessorCol = "access_digest, refresh_digest, client_id, scope, token_type, user_id, grant_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked, purge_at_ms"
	codesTable      = gormstore.DefaultTablePrefix + "codes"
)

// rawSQL holds gormstore's statements, prepared on one *sql.DB.
type rawSQL struct {
	db      *sql.DB
	dialect string // sqlBackend.db
	byAccess, insertToken, insertCode, consume, consumeReturning, selectCode,
	rotateOne, rotateOld, insertSuccessor *sql.Stmt
	stmts []*sql.Stmt
}

// rawBind writes q's ? placeholders as $1, $2... on PostgreSQL.
func rawBind(dialect, q string) string {
	if dialect != "postgres" {
		return q
	}
	var out strings.Builder
	n := 0
	for i := range len(q) {
		if q[i] != '?' {
			out.WriteByte(q[i])
			continue
		}
		n++
		out.WriteByte('$')
		out.WriteString(strconv.Itoa(n))
	}
	return out.String()
}

// newRawSQL prepares gormstore's statements for dialect on db.
func newRawSQL(ctx context.Context, db *sql.DB, dialect string) (*rawSQL, error) {
	r := &rawSQL{db: db, dialect: dialect}
	prep := func(dst **sql.Stmt, q string) error {
		st, err := db.PrepareContext(ctx, rawBind(dialect, q))
		if err != nil {
			return fmt.Errorf("preparing %.40s...: %w", q, err)
		}
		*dst = st
		r.stmts = append(r.stmts, st)
		return nil
	}
	checked := "UPDATE " + tokensTable + " SET revoked = TRUE, revoked_at_ms = ?, rotated_at_ms = ?" +
		" WHERE refresh_digest = ? AND revoked = FALSE AND refresh_expires_at_ms >= ?" +
		" AND CASE WHEN client_id = ? AND (grant_id = ? OR ? = '') THEN 1 ELSE 0 END = 1"
	consume := "UPDATE " + codesTable + " SET used = TRUE, used_at_ms = ? WHERE code_digest = ? AND used = FALSE AND expires_at_ms >= ?"
	errs := []error{
		prep(&r.byAccess, "SELECT "+rawTokenColumns+", rotated_at_ms FROM "+tokensTable+" WHERE access_digest = ?"),
		prep(&r.insertToken, "INSERT INTO "+tokensTable+" (access_digest, refresh_digest, "+rawTokenColumns+", purge_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)"),
		prep(&r.insertCode, "INSERT INTO "+codesTable+" (code_digest, "+rawCodeColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)"),
	}
	if dialect == "mysql" {
		errs = append(errs,
			prep(&r.consume, consume),
			prep(&r.selectCode, "SELECT "+rawCodeColumns+" FROM "+codesTable+" WHERE code_digest = ?"))
	} else {
		errs = append(errs, prep(&r.consumeReturning, consume+" RETURNING "+rawCodeColumns))
	}
	if dialect == "postgres" {
		errs = append(errs, prep(&r.rotateOne, "WITH old AS ("+checked+" RETURNING client_id, grant_id)"+
			" INSERT INTO "+tokensTable+" ("+rawSuccessorCol+")"+
			" SELECT CAST(? AS TEXT), CAST(? AS TEXT), old.client_id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), old.grant_id,"+
			" CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), FALSE, CAST(? AS BIGINT) FROM old RETURNING 1"))
	} else {
		errs = append(errs,
			prep(&r.rotateOld, checked),
			prep(&r.insertSuccessor, "INSERT INTO "+tokensTable+" ("+rawSuccessorCol+")"+
				" SELECT ?, ?, client_id, ?, ?, ?, grant_id, ?, ?, ?, FALSE, ? FROM "+tokensTable+" WHERE refresh_digest = ?"))
	}
	if err := errors.Join(errs...); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// close closes the prepared statements.
func (r *rawSQL) close() {
	for _, st := range r.stmts {
		_ = st.Close()
	}
}

// impl returns the concImpl of r.
func (r *rawSQL) impl() *concImpl {
	return &concImpl{lookup: r.lookup, create: r.create, exchange: r.exchange, rotate: r.rotate}
}

// lookup is GetTokenByAccess: the row by access digest, every column
// gormstore reads, and its liveness.
func (r *rawSQL) lookup(ctx context.Context, access string) (string, error) {
	var (
		clientID, scope, typ, user, grant string
		issuedMS, expMS                   int64
		refreshExpMS, rotatedMS           sql.NullInt64
		revoked                           bool
	)
	err := r.byAccess.QueryRowContext(ctx, secret.Digest(access)).Scan(&clientID, &scope, &typ, &user, &grant,
		&issuedMS, &expMS, &refreshExpMS, &revoked, &rotatedMS)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	if revoked || time.Now().After(time.UnixMilli(expMS)) {
		return "", fmt.Errorf("token of client %q not live", clientID)
	}
	return clientID, nil
}

// pairRow is what gormstore stores of a pair t (tokenRow): the digests,
// the token's columns with a new grant ID, its instants and purge instant.
type pairRow struct {
	access, refresh            string
	issuedMS, expMS, refreshMS int64
	purgeMS                    int64
	clientID, userID, grantID  string
	scope, tokenType           string
}

// newPairRow returns the row of t with a new grant ID.
func newPairRow(t *tokenIn) pairRow {
	iss := issued.UnixMilli()
	exp := issued.Add(accessTTL).UnixMilli()
	ref := issued.Add(refreshTTL).UnixMilli()
	return pairRow{
		access: secret.Digest(t.access), refresh: secret.Digest(t.refresh),
		issuedMS: iss, expMS: exp, refreshMS: ref, purgeMS: max(exp, ref),
		clientID: t.clientID, userID: t.userID, grantID: backendkit.NewGrantID(),
		scope: scope, tokenType: models.DefaultTokenType,
	}
}

// create is CreateToken: one INSERT of the row.
func (r *rawSQL) create(ctx context.Context, t *tokenIn) error {
	p := newPairRow(t)
	_, err := r.insertToken.ExecContext(ctx, p.access, p.refresh, p.clientID, p.scope, p.tokenType, p.userID, p.grantID,
		p.issuedMS, p.expMS, p.refreshMS, p.purgeMS)
	return err
}

// exchange is CreateAuthorizationCode (one INSERT) and
// ConsumeAuthorizationCode: UPDATE ... RETURNING on PostgreSQL and SQLite,
// UPDATE then SELECT on MySQL.
func (r *rawSQL) exchange(ctx context.Context, c *codeIn) error {
	digest := secret.Digest(c.code)
	authMS := issued.UnixMilli()
	_, err := r.insertCode.ExecContext(ctx, digest, c.clientID, redirect, "code", scope, authMS, issued.Add(codeTTL).UnixMilli(),
		challenge, string(models.CodeChallengeS256), "", c.userID, backendkit.NewGrantID())
	if err != nil {
		return fmt.Errorf("storing a code: %w", err)
	}
	now := time.Now()
	usedMS, nowMS := backendkit.Truncate(now).UnixMilli(), backendkit.CeilMillis(now)
	var row *sql.Row
	if r.consumeReturning != nil {
		row = r.consumeReturning.QueryRowContext(ctx, usedMS, digest, nowMS)
	} else {
		res, err := r.consume.ExecContext(ctx, usedMS, digest, nowMS)
		if err != nil {
			return fmt.Errorf("consuming a code: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("consuming a code changed %d rows (%v), want 1", n, err)
		}
		row = r.selectCode.QueryRowContext(ctx, digest)
	}
	got, err := scanRawCode(row)
	if err != nil {
		return fmt.Errorf("consuming a code: %w", err)
	}
	if got != c.clientID {
		return fmt.Errorf("consumed code of client %q, want %q", got, c.clientID)
	}
	return nil
}

// scanRawCode reads the columns gormstore reads of a code and returns its
// client ID.
func scanRawCode(row *sql.Row) (string, error) {
	var (
		clientID, redirectURI, resp, sc, ch, method, nonce, user, grant string
		authMS, expMS                                                   int64
		used                                                            bool
	)
	err := row.Scan(&clientID, &redirectURI, &resp, &sc, &authMS, &expMS, &ch, &method, &nonce, &user, &grant, &used)
	return clientID, err
}

// rotate is RotateToken of old's refresh token to next: the CTE on
// PostgreSQL; elsewhere the conditional UPDATE and the INSERT ... SELECT
// in one transaction (READ COMMITTED on MySQL, BEGIN IMMEDIATE on SQLite
// through the DSN), as gormstore sends them.
func (r *rawSQL) rotate(ctx context.Context, old, next *tokenIn) error {
	digest := secret.Digest(old.refresh)
	now := time.Now()
	n := newPairRow(next)
	// The successor names its client and no grant: it takes the old one's.
	check := []any{backendkit.Truncate(now).UnixMilli(), backendkit.CeilMillis(now), digest, backendkit.CeilMillis(now), next.clientID, "", ""}
	insert := []any{n.access, n.refresh, n.scope, n.tokenType, n.userID, n.issuedMS, n.expMS, n.refreshMS, n.purgeMS}
	if r.rotateOne != nil {
		var one int
		if err := r.rotateOne.QueryRowContext(ctx, append(check, insert...)...).Scan(&one); err != nil {
			return fmt.Errorf("rotating: %w", err)
		}
		return nil
	}
	var opts *sql.TxOptions
	if r.dialect == "mysql" {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.StmtContext(ctx, r.rotateOld).ExecContext(ctx, check...)
	if err != nil {
		return fmt.Errorf("revoking the old pair: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return fmt.Errorf("revoking the old pair changed %d rows (%v), want 1", k, err)
	}
	res, err = tx.StmtContext(ctx, r.insertSuccessor).ExecContext(ctx, append(insert, digest)...)
	if err != nil {
		return fmt.Errorf("storing the successor: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return fmt.Errorf("storing the successor changed %d rows (%v), want 1", k, err)
	}
	return tx.Commit()
}
