package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/internal/redislua"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore]: one
// script checks the code's digest is free and writes the code with its TTL
// and its index entries.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "redisstore: create authorization code"
	rec, err := s.cred.StartCreateCode(ctx, op, c)
	if err != nil {
		return err
	}
	d := s.cred.Digest(rec.Code)
	rec.Code = ""
	exp := rec.ExpiresAt().UnixMilli()
	args := append([]any{
		s.k.p, d, expiryMember(d, rec.ClientID, rec.GrantID), exp,
		s.ttl(exp, s.now()), rec.GrantID, rec.ClientID,
	}, codeFields(&rec)...)
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	created, err := redislua.CreateCode.Run(wctx, s.rdb, []string{s.k.code(d)}, args...).Int()
	if err != nil {
		return fmt.Errorf("%s for client %q: %w", op, rec.ClientID, err)
	}
	if created == 0 {
		return fmt.Errorf("%s for client %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	return nil
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore]: one
// HGETALL, judged with the store's clock.
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "redisstore: get authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	m, err := backendkit.Lookup(s.cred, code, func(d string) (map[string]string, error) {
		m, err := s.rdb.HGetAll(ctx, s.k.code(d)).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	out, used, err := decodeCode(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := backendkit.CheckCode(&out, used, s.now()); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	out.Code = code
	return &out, nil
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore]. One
// script checks and sets the code's used flag, so of concurrent callers
// exactly one wins; the same script, finding the code used, revokes the
// tokens of its grant.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "redisstore: consume authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	return backendkit.Lookup(s.cred, code, func(d string) (*models.AuthorizationCode, error) {
		return s.consume(ctx, code, d, now)
	})
}

// consume is [Store.ConsumeAuthorizationCode] of code, stored under the
// digest d.
func (s *Store) consume(ctx context.Context, code, d string, now time.Time) (*models.AuthorizationCode, error) {
	const op = "redisstore: consume authorization code"
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	res, err := redislua.ConsumeCode.Run(wctx, s.rdb, []string{s.k.code(d)}, s.k.p, backendkit.CeilMillis(now)).Slice()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	status, _ := res[0].(string)
	if status == "missing" {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("%s: %w: unexpected script reply", op, errCorrupt)
	}
	m, err := pairs(res[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, _, err := decodeCode(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	switch status {
	case "ok":
		out.Code = code
		return &out, nil
	case "expired":
		if err := backendkit.CheckCode(&out, false, now); err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		return nil, fmt.Errorf("%s for client %q: %w", op, out.ClientID, storage.ErrExpired)
	case "used":
		return nil, fmt.Errorf("redisstore: %w", backendkit.CheckCode(&out, true, now))
	}
	return nil, fmt.Errorf("%s: %w: script status %q", op, errCorrupt, status)
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "redisstore: delete authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	_, err := backendkit.Lookup(s.cred, code, func(d string) (struct{}, error) {
		wctx, cancel := writeCtx(ctx)
		defer cancel()
		found, err := redislua.DeleteCode.Run(wctx, s.rdb, []string{s.k.code(d)}, s.k.p, d).Int()
		if err != nil {
			return struct{}{}, fmt.Errorf("%s: %w", op, err)
		}
		if found == 0 {
			return struct{}{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return struct{}{}, nil
	})
	return err
}
