package mongostore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// ImportBatchSize is how many tokens [Store.ImportTokens] sends per
// InsertMany.
const ImportBatchSize = 1000

// ImportTokens stores toks as [Store.CreateToken] would store each one (the
// same validation, digests, GrantID and document), with ordered InsertMany
// calls of [ImportBatchSize] documents. It is for loading many tokens at
// once, a migration from another store or a benchmark's fixture, at a
// fraction of the cost of one CreateToken each.
//
// Every token is validated before anything is written: an invalid one is
// [storage.ErrInvalid], naming its index. The import is not one
// transaction: it stops at the first token that cannot be inserted, and
// the tokens before it stay stored. A credential that is taken, by a stored
// token or by an earlier token of toks, is [storage.ErrAlreadyExists]; the
// error of a failed import says how many tokens it stored, which are
// toks[:stored].
func (s *Store) ImportTokens(ctx context.Context, toks []models.Token) error {
	const op = "mongostore: import tokens"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	docs := make([]any, len(toks))
	for i := range toks {
		n, err := s.cred.NormalizeToken(&toks[i])
		if err != nil {
			return fmt.Errorf("%s: token %d: %w", op, i, err)
		}
		docs[i] = s.newTokenDoc(&n)
	}
	opts := options.InsertMany().SetOrdered(true)
	for start := 0; start < len(docs); start += ImportBatchSize {
		batch := docs[start:min(len(docs), start+ImportBatchSize)]
		_, err := s.tokens.InsertMany(ctx, batch, opts)
		if err == nil {
			continue
		}
		stored := start // ordered: the documents before the first failure are in
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
			stored += bwe.WriteErrors[0].Index
		}
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s: token %d is taken (%d stored): %w", op, stored, stored, storage.ErrAlreadyExists)
		}
		if bwe.WriteErrors == nil {
			// Not a write error of a document (network, context): how
			// many of the batch went in is unknown.
			return fmt.Errorf("%s: batch at token %d (between %d and %d stored): %w", op, start, start, start+len(batch), err)
		}
		return fmt.Errorf("%s: token %d (%d stored): %w", op, stored, stored, err)
	}
	return nil
}
