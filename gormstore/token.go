package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateToken implements [storage.TokenStore] with one INSERT, so the
// unique indexes on access_digest and refresh_digest reject the whole row
// if either credential is taken: nothing is written. The token is stored
// with its GrantID, a new one if it has none.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "create token"
	n, err := s.cred.StartCreateToken(ctx, "gormstore: "+op, t)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	err = exec(ctx, s.data, s.q.insertToken, s.tokenRow(&n)...).Error
	switch {
	case err == nil:
		return nil
	case isDuplicate(s.db, err):
		return fmt.Errorf("gormstore: %s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
	default:
		return dbError(op, err)
	}
}

// refreshColumns returns the refresh_digest and refresh_expires_at_ms of
// t: NULL without a refresh token (unique indexes admit many NULLs).
func (s *Store) refreshColumns(t *models.Token) (digest sql.NullString, expMS sql.NullInt64) {
	if t.RefreshToken == "" {
		return digest, expMS
	}
	return sql.NullString{String: s.cred.Digest(t.RefreshToken), Valid: true},
		sql.NullInt64{Int64: ms(t.RefreshTokenExpiresAt()), Valid: true}
}

// readToken reads the token whose digest query (s.q.tokenByAccess or
// s.q.tokenByRefresh) looks up, in one lookup of that column's unique
// index; ok is false if there is none. Both credentials are left empty.
// rotatedAt is when RotateToken replaced the pair, zero if it did not.
func (s *Store) readToken(ctx context.Context, query, digest string) (t *models.Token, rotatedAt time.Time, ok bool, err error) {
	return readTokenOn(ctx, s.data, query, digest)
}

// readTokenOn is readToken on db: the data session or a transaction of it.
func readTokenOn(ctx context.Context, db *gorm.DB, query, digest string) (t *models.Token, rotatedAt time.Time, ok bool, err error) {
	return scanToken(statement(ctx, db, query, []any{digest}).Row())
}

// scanToken reads a row of tokenColumns and rotated_at_ms; ok is false if
// there is none.
func scanToken(row *sql.Row) (t *models.Token, rotatedAt time.Time, ok bool, err error) {
	var (
		r               models.Token
		issuedMS, expMS int64
		refreshExpMS    sql.NullInt64
		rotatedMS       sql.NullInt64
	)
	err = row.Scan(&r.ClientID, &r.Scope, &r.TokenType, &r.UserID, &r.GrantID, &issuedMS, &expMS, &refreshExpMS, &r.Revoked, &rotatedMS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, err
	}
	r.IssuedAt = fromMS(issuedMS)
	r.ExpiresIn = time.Duration(expMS-issuedMS) * time.Millisecond
	if refreshExpMS.Valid {
		r.RefreshTokenExpiresIn = time.Duration(refreshExpMS.Int64-issuedMS) * time.Millisecond
	}
	if rotatedMS.Valid {
		rotatedAt = fromMS(rotatedMS.Int64)
	}
	return &r, rotatedAt, true, nil
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "get token by access token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	now := s.now()
	return backendkit.Lookup(s.cred, accessToken, func(digest string) (*models.Token, error) {
		t, _, ok, err := s.readToken(ctx, s.q.tokenByAccess, digest)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			return nil, notFound(op)
		}
		if err := backendkit.CheckAccess(t, now); err != nil {
			return nil, fmt.Errorf("gormstore: %s: %w", op, err)
		}
		t.AccessToken = accessToken
		return t, nil
	})
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "get token by refresh token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, notFound(op)
	}
	now := s.now()
	return backendkit.Lookup(s.cred, refreshToken, func(digest string) (*models.Token, error) {
		t, _, ok, err := s.readToken(ctx, s.q.tokenByRefresh, digest)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			return nil, notFound(op)
		}
		if err := backendkit.CheckRefresh(t, now); err != nil {
			return nil, fmt.Errorf("gormstore: %s: %w", op, err)
		}
		t.RefreshToken = refreshToken
		return t, nil
	})
}

// RevokeToken implements [storage.TokenStore] with one conditional UPDATE
// of the row whose access_digest or refresh_digest matches (both unique
// indexes serve it). If it changes nothing, the token is either revoked
// already (nil) or unknown ([storage.ErrNotFound]), which one more indexed
// lookup tells apart.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "revoke token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	if token == "" {
		return notFound(op)
	}
	revokedMS := ms(backendkit.Truncate(s.now()))
	found := false
	// Every digest: the value may be one pair's access token under one
	// key and another pair's refresh token under another.
	for _, d := range s.cred.Digests(token) {
		res := exec(ctx, s.data, s.q.revokeToken, revokedMS, d, d)
		if res.Error != nil {
			return dbError(op, res.Error)
		}
		if res.RowsAffected > 0 {
			found = true
			continue
		}
		var n int64
		if err := s.queryRow(ctx, s.q.hasToken, d, d).Scan(&n); err != nil {
			return dbError(op, err)
		}
		found = found || n > 0
	}
	if !found {
		return notFound(op)
	}
	return nil
}

// RotateToken implements [storage.TokenStore]. next is validated by
// [backendkit.NormalizeSuccessor]; then one conditional UPDATE
//
//	UPDATE tokens SET revoked = TRUE, revoked_at_ms = ?, rotated_at_ms = ?
//	WHERE refresh_digest = ? AND revoked = FALSE AND refresh_expires_at_ms >= ?
//	AND CASE WHEN client_id = ? AND (grant_id = ? OR ? = '') THEN 1 ELSE 0 END = 1
//
// revokes the old pair if it is live and next may succeed it (the rules
// of [backendkit.Successor], as conditions: the same client, the same
// grant unless next names none; inside a CASE so that the plan stays the
// refresh_digest index's), and the INSERT of next, with the old
// row's grant, follows it: both writes or neither.
//
//   - On PostgreSQL both are one statement, one round trip: a
//     data-modifying CTE (WITH old AS (UPDATE ... RETURNING client_id,
//     grant_id) INSERT INTO tokens (...) SELECT ... FROM old). A unique
//     violation of the INSERT aborts the whole statement, the UPDATE with
//     it.
//   - SQLite and MySQL have no data-modifying CTE: the UPDATE and an
//     INSERT ... SELECT that takes client_id and grant_id from the old
//     row by refresh_digest run in one transaction (BEGIN, two
//     statements, COMMIT), so that the old pair is never read back. On
//     MySQL it runs at READ COMMITTED, see rotate.
//
// The UPDATE's changed row picks the one winner of concurrent calls on
// every database: a caller that finds the row locked waits for the
// holder's statement or transaction to end and then finds the pair
// revoked (PostgreSQL's READ COMMITTED re-checks the condition on the
// committed row; InnoDB's UPDATE reads the latest committed version
// whatever the isolation level; SQLite runs write transactions one at a
// time). A unique violation of the INSERT undoes the UPDATE:
// [storage.ErrAlreadyExists], the old pair untouched.
//
// If the UPDATE changed nothing, the row is read afterwards, so that it
// shows what a winner committed: unknown is [storage.ErrNotFound];
// revoked is a reuse ([backendkit.ReuseError]), which revokes every token
// of the grant with one UPDATE ... WHERE grant_id = ? (a winner's new
// pair included), unless the reuse interval ([WithReuseInterval]) since
// the rotation has not passed ([backendkit.ReuseWithinInterval]); expired
// is [storage.ErrExpired]; live, it failed the successor rules
// ([backendkit.Successor]: [storage.ErrInvalid]). Nothing is written in
// those cases but the reuse's revocation. These checks stay in Go, on the
// read row, because they decide between errors rather than writes, and
// the rare caller that makes them pays the extra round trip.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "rotate token"
	n, err := s.cred.StartRotate(ctx, "gormstore: "+op, refreshToken, next)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	now := s.now()
	_, err = backendkit.Lookup(s.cred, refreshToken, func(digest string) (struct{}, error) {
		return struct{}{}, s.rotateDigest(ctx, digest, n, now)
	})
	return err
}

// rotateDigest is [Store.RotateToken] of the refresh token stored under
// digest.
func (s *Store) rotateDigest(ctx context.Context, digest string, n models.Token, now time.Time) error {
	const op = "rotate token"
	// A loser normally learns why from the row. If the row it reads is
	// live and next may succeed it, it was stored after the UPDATE ran:
	// try again.
	for range 3 {
		won, err := s.rotate(ctx, digest, n, now)
		switch {
		case err != nil && isDuplicate(s.db, err):
			return fmt.Errorf("gormstore: %s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		case err != nil:
			return dbError(op, err)
		case won:
			return nil
		}
		old, rotatedAt, ok, err := s.readToken(ctx, s.q.tokenByRefresh, digest)
		if err != nil {
			return dbError(op, err)
		}
		if !ok {
			return notFound(op)
		}
		err = backendkit.CheckRefresh(old, now)
		switch {
		case err == nil:
			// Live: next is for another client or grant, which the
			// UPDATE's conditions refused, or the pair was stored after
			// the UPDATE ran.
			next := n
			if err := backendkit.Successor(old, &next); err != nil {
				return fmt.Errorf("gormstore: %w", err)
			}
			continue
		case !old.Revoked:
			return fmt.Errorf("gormstore: %s: %w", op, err) // expired: nothing changes
		case backendkit.ReuseWithinInterval(rotatedAt, s.reuse, now):
			return fmt.Errorf("gormstore: %w", backendkit.ReuseError(old.ClientID, false))
		}
		if err := s.revokeGrantTokens(ctx, old.GrantID, now); err != nil {
			return dbError(op+": revoking the grant of a reused refresh token", err)
		}
		return fmt.Errorf("gormstore: %w", backendkit.ReuseError(old.ClientID, true))
	}
	return dbError(op, errors.New("refresh token kept changing while being rotated"))
}

// rotate runs the writes of [Store.RotateToken] for the next pair n: the
// conditional UPDATE of the pair stored under digest and, if it changed
// the row, the INSERT of n in the old pair's grant; one statement on
// PostgreSQL (q.rotateOne), a transaction of two elsewhere. won reports
// whether both were committed; on error neither is kept. A statement or
// transaction the database aborted to break a deadlock is run again.
func (s *Store) rotate(ctx context.Context, digest string, n models.Token, now time.Time) (won bool, err error) {
	// The UPDATE's arguments: instants, the old pair, the successor
	// checks (the grant ID twice, see rotateOldChecked).
	check := []any{ms(backendkit.Truncate(now)), rotatedMS(now), digest, ceilMS(now), n.ClientID, n.GrantID, n.GrantID}
	// The INSERT's: the row of n but client_id and grant_id, which the
	// old row gives.
	r := s.tokenRow(&n)
	insert := []any{r[0], r[1], r[3], r[4], r[5], r[7], r[8], r[9], r[10]}
	if s.q.rotateOne != "" {
		args := append(check, insert...)
		err = retry(ctx, func() error {
			var one int
			err := s.queryRow(ctx, s.q.rotateOne, args...).Scan(&one)
			won = err == nil
			if errors.Is(err, sql.ErrNoRows) { // the UPDATE changed nothing
				return nil
			}
			return err
		})
		return won && err == nil, err
	}
	var opts []*sql.TxOptions
	if s.dialect == mysqlDialect {
		// No gap locks. Under REPEATABLE READ, InnoDB's UPDATE through the
		// refresh_digest index takes a next-key lock, and so do the
		// requests of the callers waiting for the row: the INSERT of a
		// new refresh digest that sorts into that gap then waits for the
		// waiters, which wait for it, a deadlock concurrent rotations of
		// one refresh token hit often. READ COMMITTED locks the row alone;
		// its UPDATE still reads the latest committed version, and the
		// SELECT of INSERT ... SELECT is a consistent read that sees the
		// transaction's own UPDATE and takes no lock. (go-sql-driver sends
		// SET TRANSACTION ISOLATION LEVEL before START TRANSACTION: one
		// round trip more than a plain BEGIN.)
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	insert = append(insert, digest)
	err = retry(ctx, func() error {
		won = false
		return s.data.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := execOn(ctx, tx, s.q.rotateOldChecked, check...)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			res = execOn(ctx, tx, s.q.insertSuccessor, insert...)
			switch {
			case res.Error != nil:
				return res.Error
			case res.RowsAffected != 1: // cannot happen: the UPDATE holds the row
				return errors.New("the rotated pair vanished inside its transaction")
			}
			won = true
			return nil
		}, opts...)
	})
	if err != nil {
		won = false
	}
	return won, err
}

// rotatedMS is the rotated_at_ms of a rotation at now: now rounded up to
// the millisecond, so that the stored instant is never before the
// rotation and a reuse interval measured from it is never cut short
// ([backendkit.ReuseWithinInterval] includes the interval's end).
func rotatedMS(now time.Time) int64 { return ceilMS(now) }
