package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/storage"
)

// revokeGrantTokens flags every token of grantID revoked. An empty grantID
// (documents stored before grants) names no grant.
func (s *Store) revokeGrantTokens(ctx context.Context, grantID string) error {
	if grantID == "" {
		return nil
	}
	_, err := s.tokens.UpdateMany(ctx, bson.D{{Key: "grant_id", Value: grantID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	return err
}

// RevokeGrant implements [storage.Storage]: it flags the grant's codes used
// (a flag that decides on its own, whatever the used-markers say) and its
// tokens revoked, with one UpdateMany each. It is idempotent; a failure
// part-way is mended by calling it again.
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	const op = "mongostore: revoke grant"
	// Never stored, and a server may refuse such a value (FerretDB on
	// PostgreSQL rejects NUL) instead of finding nothing.
	if err := backendkit.StartByID(ctx, op, grantID); err != nil {
		return err
	}
	byGrant := bson.D{{Key: "grant_id", Value: grantID}}
	codes, err := s.codes.UpdateMany(ctx, byGrant, bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: codes: %w", op, grantID, err)
	}
	tokens, err := s.tokens.UpdateMany(ctx, byGrant, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: tokens: %w", op, grantID, err)
	}
	if codes.MatchedCount == 0 && tokens.MatchedCount == 0 {
		return fmt.Errorf("%s %q: %w", op, grantID, storage.ErrNotFound)
	}
	return nil
}
