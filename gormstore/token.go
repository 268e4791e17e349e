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
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateToken implements [storage.TokenStore] with one INSERT, so the
// unique indexes on access_digest and refresh_digest reject the whole row
// if either credential is taken: nothing is written. The token is stored
// with its GrantID, a new one if it has none.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "create token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeToken(t)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	refreshDigest, refreshExpMS := refreshColumns(&n)
	err = exec(ctx, s.data, s.q.insertToken,
		secret.Digest(n.AccessToken), refreshDigest, n.ClientID, n.Scope, n.TokenType, n.UserID, n.GrantID,
		ms(n.IssuedAt), ms(n.ExpiresAt()), refreshExpMS, ms(backendkit.PurgeAt(&n))).Error
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
func refreshColumns(t *models.Token) (digest sql.NullString, expMS sql.NullInt64) {
	if t.RefreshToken == "" {
		return digest, expMS
	}
	return sql.NullString{String: secret.Digest(t.RefreshToken), Valid: true},
		sql.NullInt64{Int64: ms(t.RefreshTokenExpiresAt()), Valid: true}
}

// readToken reads the token whose digest query (s.q.tokenByAccess or
// s.q.tokenByRefresh) looks up, in one lookup of that column's unique
// index; ok is false if there is none. Both credentials are left empty.
// rotatedAt is when RotateToken replaced the pair, zero if it did not.
func (s *Store) readToken(ctx context.Context, query, credential string) (t *models.Token, rotatedAt time.Time, ok bool, err error) {
	return readTokenOn(ctx, s.data, query, credential)
}

// readTokenOn is readToken on db: the data session or a transaction of it.
func readTokenOn(ctx context.Context, db *gorm.DB, query, credential string) (t *models.Token, rotatedAt time.Time, ok bool, err error) {
	return scanToken(statement(ctx, db, query, []any{secret.Digest(credential)}).Row())
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
	t, _, ok, err := s.readToken(ctx, s.q.tokenByAccess, accessToken)
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
	t, _, ok, err := s.readToken(ctx, s.q.tokenByRefresh, refreshToken)
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
	d := secret.Digest(token)
	res := exec(ctx, s.data, s.q.revokeToken,
		ms(backendkit.Truncate(s.now())), d, d)
	if res.Error != nil {
		return dbError(op, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := s.queryRow(ctx, s.q.hasToken, d, d).Scan(&n); err != nil {
		return dbError(op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// RotateToken implements [storage.TokenStore]. next is validated by
// [backendkit.NormalizeSuccessor]; then one transaction runs
//
//	UPDATE tokens SET revoked = TRUE, revoked_at_ms = ?, rotated_at_ms = ?
//	WHERE refresh_digest = ? AND revoked = FALSE AND refresh_expires_at_ms >= ?
//
// and, if it changed the row, reads the old pair (locked by the UPDATE),
// checks next against it with [backendkit.Successor] (a different client
// or grant rolls back: [storage.ErrInvalid]) and INSERTs next in the old
// pair's grant: both writes or neither. The UPDATE's affected-row count
// picks the one winner of concurrent calls on every database: a caller
// that finds the row locked waits for the holder's transaction to end and
// then finds the pair revoked (PostgreSQL's READ COMMITTED re-checks the
// condition on the committed row; InnoDB's UPDATE reads the latest
// committed version whatever the isolation level, and runs at READ
// COMMITTED here, see rotate; SQLite runs write transactions one at a
// time). A unique violation of the INSERT rolls the
// whole transaction back: [storage.ErrAlreadyExists], the old pair
// untouched.
//
// If the UPDATE changed nothing, the row is read after the transaction,
// so that it shows what a winner committed: unknown is
// [storage.ErrNotFound]; revoked is a reuse ([backendkit.ReuseError]),
// which revokes every token of the grant with one UPDATE ... WHERE
// grant_id = ? (a winner's new pair included), unless the reuse interval
// ([WithReuseInterval]) since the rotation has not passed
// ([backendkit.ReuseWithinInterval]); expired is [storage.ErrExpired], and
// nothing is written.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "rotate token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeSuccessor(next)
	if err != nil {
		return fmt.Errorf("gormstore: %w", err)
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	if refreshToken == "" {
		return notFound(op)
	}
	now := s.now()
	// A loser normally learns why from the row. If the row it reads is
	// live, it was stored after the UPDATE ran: try again.
	for range 3 {
		won, err := s.rotate(ctx, refreshToken, n, now)
		switch {
		case errors.Is(err, storage.ErrInvalid):
			return fmt.Errorf("gormstore: %w", err)
		case err != nil && isDuplicate(s.db, err):
			return fmt.Errorf("gormstore: %s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		case err != nil:
			return dbError(op, err)
		case won:
			return nil
		}
		old, rotatedAt, ok, err := s.readToken(ctx, s.q.tokenByRefresh, refreshToken)
		if err != nil {
			return dbError(op, err)
		}
		if !ok {
			return notFound(op)
		}
		err = backendkit.CheckRefresh(old, now)
		switch {
		case err == nil:
			continue // stored after the UPDATE ran
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

// rotate runs the transaction of [Store.RotateToken] for the next pair n:
// the conditional UPDATE of the pair of refreshToken and, if it changed
// the row, the read of that row, [backendkit.Successor] and the INSERT of
// n. won reports whether it committed both writes; on error (a Successor
// error wraps [storage.ErrInvalid]) neither is kept. A transaction the
// database aborted to break a deadlock is run again.
func (s *Store) rotate(ctx context.Context, refreshToken string, n models.Token, now time.Time) (won bool, err error) {
	var opts []*sql.TxOptions
	if s.dialect == mysqlDialect {
		// No gap locks. Under REPEATABLE READ, InnoDB's UPDATE through the
		// refresh_digest index takes a next-key lock, and so do the
		// requests of the callers waiting for the row: the INSERT of a
		// new refresh digest that sorts into that gap then waits for the
		// waiters, which wait for it, a deadlock concurrent rotations of
		// one refresh token hit often. READ COMMITTED locks the row alone;
		// its UPDATE still reads the latest committed version.
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	err = retry(ctx, func() error {
		won = false
		return s.data.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			args := []any{ms(backendkit.Truncate(now)), rotatedMS(now), secret.Digest(refreshToken), ceilMS(now)}
			var old *models.Token
			if s.returning {
				// One statement decides and returns the pair.
				var ok bool
				var err error
				old, _, ok, err = scanToken(statement(ctx, tx, s.q.rotateOldReturning, args).Row())
				if err != nil || !ok {
					return err
				}
			} else {
				res := execOn(ctx, tx, s.q.rotateOld, args...)
				if res.Error != nil || res.RowsAffected == 0 {
					return res.Error
				}
				var ok bool
				var err error
				old, _, ok, err = readTokenOn(ctx, tx, s.q.tokenByRefresh, refreshToken)
				switch {
				case err != nil:
					return err
				case !ok: // cannot happen: the UPDATE holds the row
					return errors.New("the rotated pair vanished inside its transaction")
				}
			}
			next := n // Successor sets an empty GrantID; a retry starts afresh
			if err := backendkit.Successor(old, &next); err != nil {
				return err
			}
			refreshDigest, refreshExpMS := refreshColumns(&next)
			res := execOn(ctx, tx, s.q.insertToken,
				secret.Digest(next.AccessToken), refreshDigest, next.ClientID, next.Scope, next.TokenType, next.UserID, next.GrantID,
				ms(next.IssuedAt), ms(next.ExpiresAt()), refreshExpMS, ms(backendkit.PurgeAt(&next)))
			if res.Error != nil {
				return res.Error
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
