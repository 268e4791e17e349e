package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateToken implements [storage.TokenStore] with one INSERT, so the
// unique indexes on access_digest and refresh_digest reject the whole row
// if either credential is taken: nothing is written.
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
	var (
		refreshDigest sql.NullString // NULL without a refresh token: unique indexes admit many NULLs
		refreshExpMS  sql.NullInt64
	)
	if n.RefreshToken != "" {
		refreshDigest = sql.NullString{String: secret.Digest(n.RefreshToken), Valid: true}
		refreshExpMS = sql.NullInt64{Int64: ms(n.RefreshTokenExpiresAt()), Valid: true}
	}
	err = exec(ctx, s.data, s.q.insertToken,
		secret.Digest(n.AccessToken), refreshDigest, n.ClientID, n.Scope, n.TokenType, n.UserID,
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

// readToken reads the token whose digest query (s.q.tokenByAccess or
// s.q.tokenByRefresh) looks up, in one lookup of that column's unique
// index; ok is false if there is none. Both credentials are left empty.
func (s *Store) readToken(ctx context.Context, query, credential string) (t *models.Token, ok bool, err error) {
	row := s.queryRow(ctx, query, secret.Digest(credential))
	var (
		r               models.Token
		issuedMS, expMS int64
		refreshExpMS    sql.NullInt64
	)
	err = row.Scan(&r.ClientID, &r.Scope, &r.TokenType, &r.UserID, &issuedMS, &expMS, &refreshExpMS, &r.Revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	r.IssuedAt = fromMS(issuedMS)
	r.ExpiresIn = time.Duration(expMS-issuedMS) * time.Millisecond
	if refreshExpMS.Valid {
		r.RefreshTokenExpiresIn = time.Duration(refreshExpMS.Int64-issuedMS) * time.Millisecond
	}
	return &r, true, nil
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "get token by access token"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	now := s.now()
	t, ok, err := s.readToken(ctx, s.q.tokenByAccess, accessToken)
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
	t, ok, err := s.readToken(ctx, s.q.tokenByRefresh, refreshToken)
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
