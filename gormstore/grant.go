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
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	if !backendkit.LookupID(grantID) {
		return notFound(op) // no record has such a grant ID; the database may reject it
	}
	at := ms(backendkit.Truncate(s.now()))
	var changed int64
	// Codes first, then tokens: the order DeleteClient locks them in.
	err := retry(ctx, func() error {
		changed = 0
		return s.data.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, query := range []string{s.q.revokeGrantCodes, s.q.revokeGrantTokens} {
				res := execOn(ctx, tx, query, at, grantID)
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
	if err := s.queryRow(ctx, s.q.hasGrant, grantID, grantID).Scan(&found); err != nil {
		return dbError(op, err)
	}
	if found == 0 {
		return fmt.Errorf("gormstore: %s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// revokeGrantTokens revokes every live token of grantID with one UPDATE
// through the tokens' grant_id index: what a replayed code and a reused
// refresh token do.
func (s *Store) revokeGrantTokens(ctx context.Context, grantID string, now time.Time) error {
	return exec(ctx, s.data, s.q.revokeGrantTokens, ms(backendkit.Truncate(now)), grantID).Error
}
