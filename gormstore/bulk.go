package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// ImportBatchSize is how many tokens [Store.ImportTokens] writes per
// INSERT statement: 11 parameters a row, within every database's bound on
// the parameters of one statement.
const ImportBatchSize = 500

// tokenRow returns the values of the insertToken statement for the
// normalised pair n, in its order: the one place the row of a token is laid
// out, for [Store.CreateToken], [Store.RotateToken] and
// [Store.ImportTokens].
func (s *Store) tokenRow(n *models.Token) []any {
	refreshDigest, refreshExpMS := s.refreshColumns(n)
	return []any{s.cred.Digest(n.AccessToken), refreshDigest, n.ClientID, n.Scope, n.TokenType, n.UserID, n.GrantID,
		ms(n.IssuedAt), ms(n.ExpiresAt()), refreshExpMS, ms(backendkit.PurgeAt(n))}
}

// ImportTokens stores toks as [Store.CreateToken] would store each one
// (the same validation, digests, GrantID and row), in multi-row INSERTs of
// [ImportBatchSize] rows, all in one transaction: every token is stored or
// none is. It is for loading many tokens at once, a migration from another
// store or a benchmark's fixture, at a fraction of the cost of one
// CreateToken each.
//
// Every token is validated before anything is written: an invalid one is
// [storage.ErrInvalid], naming its index. A credential that is taken,
// by a stored token or by another token of toks, is
// [storage.ErrAlreadyExists], and nothing is written. On SQLite the
// transaction's connection gets a larger page cache while it fills the
// digest indexes, and its own back before it returns to the pool.
func (s *Store) ImportTokens(ctx context.Context, toks []models.Token) error {
	const op = "import tokens"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	rows := make([][]any, len(toks))
	for i := range toks {
		n, err := s.cred.NormalizeToken(&toks[i])
		if err != nil {
			return fmt.Errorf("gormstore: %s: token %d: %w", op, i, err)
		}
		if err := checkClientID(op, n.ClientID); err != nil {
			return fmt.Errorf("gormstore: %s: token %d: %w", op, i, err)
		}
		rows[i] = s.tokenRow(&n)
	}
	if len(rows) == 0 {
		return nil
	}
	err := retry(ctx, func() error {
		return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if s.dialect == sqliteDialect {
				restore, err := bigPageCache(ctx, tx)
				if err != nil {
					return err
				}
				defer restore()
			}
			for start := 0; start < len(rows); start += ImportBatchSize {
				batch := rows[start:min(len(rows), start+ImportBatchSize)]
				if err := execOn(ctx, tx, s.importQuery(len(batch)), flatten(batch)...).Error; err != nil {
					return err
				}
			}
			return nil
		})
	})
	switch {
	case err == nil:
		return nil
	case isDuplicate(s.db, err):
		return fmt.Errorf("gormstore: %s: a code or token is taken: %w", op, storage.ErrAlreadyExists)
	default:
		return txError(ctx, op, err)
	}
}

// importQuery returns the INSERT of n token rows, in the columns and order
// of the insertToken statement.
func (s *Store) importQuery(n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO " + s.t.tokens + " (access_digest, refresh_digest, " + tokenColumns + ", purge_at_ms) VALUES ")
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)")
	}
	return bindVars(s.dialect, q.String())
}

func flatten(rows [][]any) []any {
	out := make([]any, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// bigPageCache raises the page cache of tx's SQLite connection to 512 MiB,
// which makes inserting into the random-order digest indexes several times
// faster once they outgrow the default 2 MB, and returns a function that
// sets it back.
func bigPageCache(ctx context.Context, tx *gorm.DB) (restore func(), err error) {
	var was sql.NullInt64
	if err := tx.Raw("PRAGMA cache_size").Scan(&was).Error; err != nil {
		return nil, err
	}
	if err := tx.Exec("PRAGMA cache_size = -524288").Error; err != nil {
		return nil, err
	}
	return func() {
		if was.Valid {
			_ = tx.WithContext(context.WithoutCancel(ctx)).Exec(fmt.Sprintf("PRAGMA cache_size = %d", was.Int64)).Error
		}
	}, nil
}
