package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/storage"
)

// RevokeGrant implements [storage.Storage]. In one transaction, one
// UPDATE ... WHERE grant_id = ? AND used = FALSE marks the grant's unused
// codes used, and one UPDATE ... WHERE grant_id = ? AND revoked = FALSE
// revokes its tokens, both through the grant_id indexes. If neither changes
// a row, one more indexed query tells a grant revoked already (nil) from
// one of which nothing is stored ([storage.ErrNotFound]).
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	const op = "revoke grant"
	// No record has a grant ID LookupID refuses; the database may reject it.
	if err := backendkit.StartByID(ctx, "gormstore: "+op, grantID); err != nil {
		return err
	}
	return s.revokeRecords(ctx, op, grantID, s.q.revokeGrantCodes, s.q.revokeGrantTokens, s.q.hasGrant, grantID, grantID)
}

// revokeRecords is RevokeGrant and RevokeClientTokens: in one transaction
// the UPDATE codesQuery marks the unused codes of id used and the UPDATE
// tokensQuery revokes its live tokens (codes first, then tokens: the order
// DeleteClient locks them in). If neither changed a row, hasQuery, with
// hasArgs, counts what is stored of id: none is [storage.ErrNotFound].
func (s *Store) revokeRecords(ctx context.Context, op, id, codesQuery, tokensQuery, hasQuery string, hasArgs ...any) error {
	at := ms(backendkit.Truncate(s.now()))
	var changed int64
	err := retry(ctx, func() error {
		changed = 0
		return s.data.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, query := range []string{codesQuery, tokensQuery} {
				res := execOn(ctx, tx, query, at, id)
				if res.Error != nil {
					return res.Error
				}
				changed += res.RowsAffected
			}
			return nil
		})
	})
	if err != nil {
		return txError(ctx, op, err)
	}
	if changed > 0 {
		return nil
	}
	var found int64
	if err := s.queryRow(ctx, hasQuery, hasArgs...).Scan(&found); err != nil {
		return dbError(op, err)
	}
	if found == 0 {
		return fmt.Errorf("gormstore: %s %q: %w", op, id, storage.ErrNotFound)
	}
	return nil
}

// revokeGrantTokens revokes every live token of grantID with one UPDATE
// through the tokens' grant_id index: what a replayed code and a reused
// refresh token do.
func (s *Store) revokeGrantTokens(ctx context.Context, grantID string, now time.Time) error {
	return exec(ctx, s.data, s.q.revokeGrantTokens, ms(backendkit.Truncate(now)), grantID).Error
}
