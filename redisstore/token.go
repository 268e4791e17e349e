package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/internal/redislua"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Errors of the lookups that miss, built once.
var (
	errAccessNotFound  = fmt.Errorf("redisstore: get token by access token: %w", storage.ErrNotFound)
	errRefreshNotFound = fmt.Errorf("redisstore: get token by refresh token: %w", storage.ErrNotFound)
	errRotateNotFound  = fmt.Errorf("redisstore: rotate token: %w", storage.ErrNotFound)
)

// insertArgs returns the script arguments that describe the normalized
// pair t for insert_token (see internal/redislua), after the prefix: access
// digest, refresh digest, expiry member, purge instant, ttl, grant ID,
// client ID, fields.
func (s *Store) insertArgs(t *models.Token, now time.Time) []any {
	a := s.cred.Digest(t.AccessToken)
	r := ""
	if t.RefreshToken != "" {
		r = s.cred.Digest(t.RefreshToken)
	}
	rec := *t
	rec.AccessToken, rec.RefreshToken = "", ""
	purgeAt := backendkit.PurgeAt(&rec).UnixMilli()
	args := []any{a, r, expiryMember(a, rec.ClientID, rec.GrantID), purgeAt, s.ttl(purgeAt, now), rec.GrantID, rec.ClientID}
	return append(args, tokenFields(&rec, r)...)
}

// CreateToken implements [storage.TokenStore]: one script checks that both
// credentials' digests are free and writes the pair (a hash under the
// access token's digest, and a key under the refresh token's digest that
// names it), its TTLs and its index entries.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "redisstore: create token"
	tok, err := s.cred.StartCreateToken(ctx, op, t)
	if err != nil {
		return err
	}
	args := append([]any{s.k.p}, s.insertArgs(&tok, s.now())...)
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	taken, err := redislua.CreateToken.Run(wctx, s.rdb, []string{s.k.access(args[1].(string))}, args...).Text()
	if err != nil {
		return fmt.Errorf("%s for client %q: %w", op, tok.ClientID, err)
	}
	switch taken {
	case "ok":
		return nil
	case "access", "refresh":
		return fmt.Errorf("%s for client %q: %s token: %w", op, tok.ClientID, taken, storage.ErrAlreadyExists)
	}
	return fmt.Errorf("%s: %w: script status %q", op, errCorrupt, taken)
}

// GetTokenByAccess implements [storage.TokenStore]: one HGETALL, judged
// with the store's clock.
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "redisstore: get token by access token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	m, err := backendkit.Lookup(s.cred, accessToken, func(d string) (map[string]string, error) {
		m, err := s.rdb.HGetAll(ctx, s.k.access(d)).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if len(m) == 0 {
			return nil, errAccessNotFound
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := decodeToken(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := backendkit.CheckAccess(&out, s.now()); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	out.AccessToken = accessToken
	return &out, nil
}

// byRefresh reads the pair of the refresh token with digest d, in one
// script (the refresh key names the pair's hash); found is false if there
// is none.
func (s *Store) byRefresh(ctx context.Context, d string) (tok models.Token, found bool, err error) {
	v, err := redislua.GetByRefresh.Run(ctx, s.rdb, []string{s.k.refresh(d)}, s.k.p).Result()
	if err != nil {
		return tok, false, err
	}
	m, err := pairs(v)
	if err != nil || len(m) == 0 {
		return tok, false, err
	}
	tok, err = decodeToken(m)
	return tok, err == nil, err
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "redisstore: get token by refresh token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%s: empty refresh token: %w", op, storage.ErrNotFound)
	}
	out, err := backendkit.Lookup(s.cred, refreshToken, func(d string) (models.Token, error) {
		out, found, err := s.byRefresh(ctx, d)
		if err != nil {
			return out, fmt.Errorf("%s: %w", op, err)
		}
		if !found {
			return out, errRefreshNotFound
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	if err := backendkit.CheckRefresh(&out, s.now()); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	out.RefreshToken = refreshToken
	return &out, nil
}

// RevokeToken implements [storage.TokenStore]: one script sets the revoked
// flag of the pair whose access token the value is and of the pair whose
// refresh token it is.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "redisstore: revoke token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	found := 0
	// Every digest: the value may be one pair's access token under one key
	// and another pair's refresh token under another.
	for _, d := range s.cred.Digests(token) {
		wctx, cancel := writeCtx(ctx)
		n, err := redislua.RevokeToken.Run(wctx, s.rdb, []string{s.k.access(d), s.k.refresh(d)}, s.k.p).Int()
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		found += n
	}
	if found == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// RotateToken implements [storage.TokenStore].
//
// It reads the old pair, checks the next one against it with
// [backendkit.Successor], then runs one script that decides: it finds the
// old pair again (and starts over if it is not the one read), and either
// revokes the old pair and stores the next one, or, if the old pair is
// revoked, revokes every token of its grant (a reuse, unless within the
// reuse interval), or changes nothing (expired, or a credential of the
// next pair taken). Concurrent rotations of one refresh token run their
// scripts one after the other: the first revokes the old pair, and the
// others find it revoked, which is a reuse.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "redisstore: rotate token"
	n, err := s.cred.StartRotate(ctx, op, refreshToken, next)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = backendkit.Lookup(s.cred, refreshToken, func(d string) (struct{}, error) {
		return struct{}{}, s.rotate(ctx, d, n, now)
	})
	return err
}

// rotate is [Store.RotateToken] of the refresh token stored under the
// digest d, to the normalized pair n.
func (s *Store) rotate(ctx context.Context, d string, n models.Token, now time.Time) error {
	const op = "redisstore: rotate token"
	reuseLo := "" // the earliest rotation instant within the reuse interval
	if s.reuse > 0 {
		reuseLo = fmt.Sprint(backendkit.CeilMillis(now.Add(-s.reuse)))
	}
	for range rotateAttempts {
		old, found, err := s.byRefresh(ctx, d)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if !found {
			return errRotateNotFound
		}
		// Reuse is judged on the refresh token alone: next is checked
		// against the old pair only if that is live. The script decides
		// the other cases.
		succ, checked := n, false
		if backendkit.CheckRefresh(&old, now) == nil {
			if err := backendkit.Successor(&old, &succ); err != nil {
				return fmt.Errorf("redisstore: %w", err)
			}
			checked = true
		}
		args := []any{s.k.p, backendkit.CeilMillis(now), backendkit.Truncate(now).UnixMilli(), reuseLo,
			old.ClientID, old.GrantID, flag(checked)}
		args = append(args, s.insertArgs(&succ, now)...)
		res, err := s.runRotate(ctx, d, args)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		switch res[0] {
		case "ok":
			return nil
		case "missing":
			return errRotateNotFound
		case "retry":
			continue
		case "within":
			return fmt.Errorf("redisstore: %w", backendkit.ReuseError(old.ClientID, false))
		case "reuse":
			return fmt.Errorf("redisstore: %w", backendkit.ReuseError(old.ClientID, true))
		case "expired":
			if err := backendkit.CheckRefresh(&old, now); errors.Is(err, storage.ErrExpired) {
				return fmt.Errorf("redisstore: rotate token: %w", err)
			}
			return fmt.Errorf("%s of client %q: %w", op, old.ClientID, storage.ErrExpired)
		case "exists":
			return fmt.Errorf("%s of client %q: %s token of the next pair: %w", op, old.ClientID, res[1], storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s: %w: script status %q", op, errCorrupt, res[0])
	}
	return fmt.Errorf("%s: the pair changed %d times while it was rotated: %w", op, rotateAttempts, errConcurrent)
}

// errConcurrent reports an operation that kept finding its record replaced.
var errConcurrent = errors.New("redisstore: concurrent modification")

func (s *Store) runRotate(ctx context.Context, d string, args []any) ([]string, error) {
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	res, err := redislua.RotateToken.Run(wctx, s.rdb, []string{s.k.refresh(d)}, args...).StringSlice()
	if err == nil && len(res) == 0 {
		err = fmt.Errorf("%w: empty script reply", errCorrupt)
	}
	if err == nil && res[0] == "exists" && len(res) < 2 {
		err = fmt.Errorf("%w: short script reply", errCorrupt)
	}
	return res, err
}

// RevokeGrant implements [storage.Storage]: one script revokes the tokens
// and marks used the codes that the grant's index lists.
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	const op = "redisstore: revoke grant"
	if err := backendkit.StartByID(ctx, op, grantID); err != nil {
		return err
	}
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	n, err := redislua.RevokeGrant.Run(wctx, s.rdb, []string{s.k.grant(grantID)}, s.k.p, grantID).Int()
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, grantID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", op, grantID, storage.ErrNotFound)
	}
	return nil
}

// PurgeExpired implements [storage.Storage]. It works in batches: each
// script takes at most the batch size of entries from an expiry index
// (codes first, then token pairs) that expired before the store's now, and
// deletes their records. ctx is checked between batches; on an error the
// count is what was deleted so far.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "redisstore: purge expired"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return 0, err
	}
	now := backendkit.CeilMillis(s.now())
	var total int64
	for _, idx := range []struct{ key, kind string }{{s.k.codeExpiry(), "c"}, {s.k.tokenExpiry(), "t"}} {
		for {
			if err := backendkit.CtxErr(ctx, op); err != nil {
				return total, err
			}
			deleted, removed, read, err := s.purgeBatch(ctx, idx.key, idx.kind, now)
			total += deleted
			if err != nil {
				return total, fmt.Errorf("%s: %w", op, err)
			}
			if read < int64(s.batch) || removed == 0 {
				break
			}
		}
	}
	return total, nil
}

func (s *Store) purgeBatch(ctx context.Context, key, kind string, now int64) (deleted, removed, read int64, err error) {
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	res, err := redislua.Purge.Run(wctx, s.rdb, []string{key}, s.k.p, now, s.batch, kind).Int64Slice()
	if err != nil {
		return 0, 0, 0, err
	}
	if len(res) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: unexpected script reply", errCorrupt)
	}
	return res[0], res[1], res[2], nil
}
