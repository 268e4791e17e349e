package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
)

// PurgeExpired implements [storage.Storage]. It deletes codes whose
// expires_at_ms and tokens whose purge_at_ms ([backendkit.PurgeAt]) lie before
// the store clock's now, in batches of at most the purge batch size
// ([WithPurgeBatchSize]), each its own statement and transaction, so that no
// statement locks many rows or runs long. Each batch is found through the
// expiry index. On SQLite and PostgreSQL a batch is
//
//	DELETE FROM t WHERE id IN (SELECT id FROM t WHERE expiry < ? LIMIT n)
//
// MySQL refuses LIMIT in such a subquery, so there the ids are selected
// first and deleted with the expiry condition checked again. If ctx ends
// between batches the rows deleted so far are counted in the returned
// number along with the error.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "purge expired"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return 0, err
	}
	cutoff := ceilMS(s.now())
	var total int64
	for i, target := range purgeTargets(s.t) {
		for {
			if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
				return total, err
			}
			n, more, err := s.purgeBatch(ctx, i, target, cutoff)
			total += n
			if err != nil {
				return total, dbError(op, err)
			}
			if !more {
				break
			}
		}
	}
	return total, nil
}

// purgeBatch deletes at most s.batch rows of target i (of [purgeTargets])
// whose expiry column is before cutoff. It returns how many it deleted and
// whether a full batch was found, so that there may be more. Purges run on
// the unprepared session: they are rare, and the MySQL DELETE has a
// varying number of placeholders.
func (s *Store) purgeBatch(ctx context.Context, i int, target purgeTarget, cutoff int64) (deleted int64, more bool, err error) {
	if s.dialect != mysqlDialect {
		res := exec(ctx, s.db, s.q.purge[i], cutoff)
		return res.RowsAffected, res.RowsAffected == int64(s.batch), res.Error
	}
	rows, err := statement(ctx, s.db, s.q.purge[i], []any{cutoff}).Rows()
	if err != nil {
		return 0, false, err
	}
	ids, err := scanIDs(rows)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	// The expiry is checked again: a row may have changed in between.
	del := fmt.Sprintf("DELETE FROM %s WHERE id IN (%s) AND %s < ?", target.table, placeholders, target.column)
	var res *gorm.DB
	_ = retry(ctx, func() error {
		res = s.with(ctx).Exec(del, append(ids, cutoff)...)
		return res.Error
	})
	if res.Error != nil {
		return 0, false, res.Error
	}
	return res.RowsAffected, len(ids) == s.batch, nil
}

func scanIDs(rows *sql.Rows) ([]any, error) {
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
