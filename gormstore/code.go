package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore] with
// one INSERT; the unique index on code_digest rejects a stored code. The
// code is stored with its GrantID, a new one if it has none. The PKCE
// challenge (with the plain method, the verifier itself) is bound as a
// [redacted] value: the caller's logger sees "[REDACTED]".
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "create authorization code"
	n, err := s.cred.StartCreateCode(ctx, "gormstore: "+op, c)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	err = exec(ctx, s.data, s.q.insertCode,
		s.cred.Digest(n.Code), n.ClientID, n.RedirectURI, string(n.ResponseType), n.Scope,
		ms(n.AuthTime), ms(n.ExpiresAt()), redacted(n.CodeChallenge), string(n.CodeChallengeMethod), n.Nonce, n.UserID, n.GrantID).Error
	switch {
	case err == nil:
		return nil
	case isDuplicate(s.db, err):
		return fmt.Errorf("gormstore: %s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
	default:
		return dbError(op, err)
	}
}

// readCode reads code, stored under digest, in one lookup of the unique
// code_digest index; ok is false if there is none.
func (s *Store) readCode(ctx context.Context, code, digest string) (c *models.AuthorizationCode, used, ok bool, err error) {
	return scanCode(s.queryRow(ctx, s.q.selectCode, digest), code)
}

// scanCode reads a code of the columns codeColumns names from row; ok is
// false if there is no row.
func scanCode(row rowScanner, code string) (c *models.AuthorizationCode, used, ok bool, err error) {
	var (
		r             models.AuthorizationCode
		method, resp  string
		authMS, expMS int64
	)
	err = row.Scan(&r.ClientID, &r.RedirectURI, &resp, &r.Scope, &authMS, &expMS,
		&r.CodeChallenge, &method, &r.Nonce, &r.UserID, &r.GrantID, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	r.Code = code
	r.ResponseType = models.ResponseType(resp)
	r.CodeChallengeMethod = models.CodeChallengeMethod(method)
	r.AuthTime = fromMS(authMS)
	r.ExpiresIn = time.Duration(expMS-authMS) * time.Millisecond
	return &r, used, true, nil
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "get authorization code"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	now := s.now()
	return backendkit.Lookup(s.cred, code, func(digest string) (*models.AuthorizationCode, error) {
		c, used, ok, err := s.readCode(ctx, code, digest)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			return nil, notFound(op)
		}
		if err := backendkit.CheckCode(c, used, now); err != nil {
			return nil, fmt.Errorf("gormstore: %s: %w", op, err)
		}
		return c, nil
	})
}

// readBackTimeout bounds the read of a code its caller has just consumed
// (MySQL), which does not end with the caller's context.
const readBackTimeout = 5 * time.Second

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
// One conditional UPDATE ... WHERE code_digest = ? AND used = FALSE AND
// expires_at_ms >= now decides the winner by the row it changes, on every
// database and isolation level. On PostgreSQL and SQLite (3.35+) the same
// statement returns the row (UPDATE ... RETURNING): once the database has
// consumed the code, the winner has it, with no second round trip that a
// context ending or a connection failing could cut. On MySQL, which has no
// RETURNING, the winner reads the row in a second statement that does not
// end with the caller's context (context.WithoutCancel, bounded by
// readBackTimeout): the code is the winner's, and so is the read.
//
// A loser reads the row to tell used, expired and unknown codes apart. A
// used code is a replay: one UPDATE ... WHERE grant_id = ? revokes the
// tokens of its grant before [storage.ErrAlreadyUsed] is returned.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "consume authorization code"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	now := s.now()
	return backendkit.Lookup(s.cred, code, func(digest string) (*models.AuthorizationCode, error) {
		return s.consume(ctx, code, digest, now)
	})
}

// consume is [Store.ConsumeAuthorizationCode] of code, stored under
// digest.
func (s *Store) consume(ctx context.Context, code, digest string, now time.Time) (*models.AuthorizationCode, error) {
	const op = "consume authorization code"
	usedMS, nowMS := ms(backendkit.Truncate(now)), ceilMS(now)
	// A loser normally learns why from the row. If the row it reads is
	// live, it was created after the UPDATE ran: try again.
	for range 3 {
		if s.returning {
			var (
				c   *models.AuthorizationCode
				won bool
			)
			err := retry(ctx, func() error {
				var err error
				c, _, won, err = scanCode(s.queryRow(ctx, s.q.consumeCodeReturning, usedMS, digest, nowMS), code)
				return err
			})
			if err != nil {
				return nil, dbError(op, err)
			}
			if won {
				s.consumed(ctx)
				return c, nil
			}
		} else {
			res := exec(ctx, s.data, s.q.consumeCode, usedMS, digest, nowMS)
			if res.Error != nil {
				return nil, dbError(op, res.Error)
			}
			if res.RowsAffected == 1 {
				s.consumed(ctx)
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
				c, _, ok, err := s.readCode(rctx, code, digest)
				cancel()
				if err != nil {
					return nil, dbError(op+": reading the consumed code", err)
				}
				if !ok { // deleted since
					return nil, notFound(op)
				}
				return c, nil
			}
		}
		c, used, ok, err := s.readCode(ctx, code, digest)
		if err != nil {
			return nil, dbError(op, err)
		}
		if !ok {
			// Deleted (by DeleteAuthorizationCode, DeleteClient or a purge)
			// since, or never stored.
			return nil, notFound(op)
		}
		if used {
			if err := s.revokeGrantTokens(ctx, c.GrantID, now); err != nil {
				return nil, dbError(op+": revoking the tokens of the code's grant", err)
			}
		}
		if err := backendkit.CheckCode(c, used, now); err != nil {
			return nil, fmt.Errorf("gormstore: %s: %w", op, err)
		}
	}
	return nil, dbError(op, errors.New("code kept changing while being consumed"))
}

// consumed runs the test hook of a consumed code, if any.
func (s *Store) consumed(ctx context.Context) {
	if s.testHookConsumed != nil {
		s.testHookConsumed(ctx)
	}
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "delete authorization code"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	_, err := backendkit.Lookup(s.cred, code, func(digest string) (struct{}, error) {
		res := exec(ctx, s.data, s.q.deleteCode, digest)
		if res.Error != nil {
			return struct{}{}, dbError(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return struct{}{}, notFound(op)
		}
		return struct{}{}, nil
	})
	return err
}
