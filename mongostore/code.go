package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "mongostore: create authorization code"
	n, err := s.cred.StartCreateCode(ctx, op, c)
	if err != nil {
		return err
	}
	doc := codeDoc{
		ID:                  s.cred.Digest(n.Code),
		Gen:                 bson.NewObjectID(),
		ClientID:            n.ClientID,
		RedirectURI:         n.RedirectURI,
		ResponseType:        string(n.ResponseType),
		Scope:               n.Scope,
		AuthTime:            date(n.AuthTime),
		ExpiresAt:           date(n.ExpiresAt()),
		CodeChallenge:       n.CodeChallenge,
		CodeChallengeMethod: string(n.CodeChallengeMethod),
		Nonce:               n.Nonce,
		UserID:              n.UserID,
		GrantID:             n.GrantID,
	}
	if _, err := s.codes.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s for client %q: %w", op, n.ClientID, err)
	}
	return nil
}

// findCode returns the code document, or ErrNotFound.
func (s *Store) findCode(ctx context.Context, op, digest string) (*codeDoc, error) {
	var d codeDoc
	if err := s.codes.FindOne(ctx, bson.D{{Key: "_id", Value: digest}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &d, nil
}

// lookupCode returns ctx's error if ctx is done, else the document of
// code under the first digest it is stored under ([backendkit.Lookup]), or
// ErrNotFound.
func (s *Store) lookupCode(ctx context.Context, op, code string) (*codeDoc, error) {
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	return backendkit.Lookup(s.cred, code, func(digest string) (*codeDoc, error) {
		return s.findCode(ctx, op, digest)
	})
}

// used reports whether the code document d has been consumed: flagged, or
// (if the consumer stopped before flagging it) marked.
func (s *Store) used(ctx context.Context, op string, d *codeDoc) (bool, error) {
	if d.Used {
		return true, nil
	}
	err := s.uses.FindOne(ctx, bson.D{{Key: "_id", Value: markerID(d.ID, d.Gen)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	}
	return false, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore]. A code is
// used if its document is flagged or its used-marker exists.
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "mongostore: get authorization code"
	d, err := s.lookupCode(ctx, op, code)
	if err != nil {
		return nil, err
	}
	used, err := s.used(ctx, op, d)
	if err != nil {
		return nil, err
	}
	c := d.code(code)
	if err := backendkit.CheckCode(c, used, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
//
// The winner is the one caller whose insert of the code's used-marker
// succeeds: the marker's _id is unique, so every other insert fails with a
// duplicate key error and its caller gets [storage.ErrAlreadyUsed]. The
// winner then flags the code document used, so that later reads need one
// round trip; that write is best effort (it is not cancelled with ctx and a
// failure is ignored) because the marker alone already decides. A code
// flagged by [Store.RevokeGrant] between the winner's read and its insert
// was unusable before the winner won: the flag's former value, returned by
// that same write, says so, and the winner gets [storage.ErrAlreadyUsed].
//
// Every call that gets [storage.ErrAlreadyUsed] revokes the tokens of the
// code's grant.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "mongostore: consume authorization code"
	d, err := s.lookupCode(ctx, op, code)
	if err != nil {
		return nil, err
	}
	return s.consume(ctx, op, d, code, s.now())
}

// consume consumes the code document d, read at now.
func (s *Store) consume(ctx context.Context, op string, d *codeDoc, code string, now time.Time) (*models.AuthorizationCode, error) {
	c := d.code(code)
	if d.Used {
		return nil, s.replayed(ctx, op, c)
	}
	if c.IsExpiredAt(now) {
		// Used takes precedence over expired: look for a marker.
		used, err := s.used(ctx, op, d)
		if err != nil {
			return nil, err
		}
		if used {
			return nil, s.replayed(ctx, op, c)
		}
		return nil, fmt.Errorf("%s: %w", op, backendkit.CheckCode(c, false, now))
	}
	marker := useDoc{
		ID:        markerID(d.ID, d.Gen),
		Code:      d.ID,
		ClientID:  d.ClientID,
		ExpiresAt: d.ExpiresAt,
		UsedAt:    date(now),
	}
	if _, err := s.uses.InsertOne(ctx, marker); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, s.replayed(ctx, op, c)
		}
		return nil, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
	}
	fctx, cancel := detached(ctx)
	defer cancel()
	// Flag this incarnation only: the code may have been deleted and
	// created again since it was read.
	// The document before the write comes back whole: FerretDB implements
	// no projection on findAndModify.
	var was struct {
		Used bool `bson:"used"`
	}
	err := s.codes.FindOneAndUpdate(fctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "gen", Value: d.Gen}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&was)
	if err == nil && was.Used {
		// Flagged by RevokeGrant after it was read: not this caller's.
		return nil, s.replayed(ctx, op, c)
	}
	return c, nil
}

// replayed revokes the tokens of the grant of c, a used code presented
// again, and returns the [storage.ErrAlreadyUsed] error for it. The
// revocation is not cancelled with ctx: a replay is detected even if its
// caller hangs up.
func (s *Store) replayed(ctx context.Context, op string, c *models.AuthorizationCode) error {
	used := fmt.Errorf("%s: %w", op, backendkit.CheckCode(c, true, time.Time{}))
	rctx, cancel := detached(ctx)
	defer cancel()
	if err := s.revokeGrantTokens(rctx, c.GrantID); err != nil {
		return fmt.Errorf("%w; revoking the tokens of its grant: %w", used, err)
	}
	return used
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore]. It
// deletes the code document, then its used-markers.
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "mongostore: delete authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	_, err := backendkit.Lookup(s.cred, code, func(digest string) (struct{}, error) {
		res, err := s.codes.DeleteOne(ctx, bson.D{{Key: "_id", Value: digest}})
		if err != nil {
			return struct{}{}, fmt.Errorf("%s: %w", op, err)
		}
		// Markers are keyed by the code document's incarnation, so one
		// left behind by a failure here can never mark a code created
		// later with the same value; it is purged with its expiry. Delete
		// them even if the code was already gone, to clear what an
		// earlier failure left.
		if _, err := s.uses.DeleteMany(ctx, bson.D{{Key: "code", Value: digest}}); err != nil && res.DeletedCount == 0 {
			return struct{}{}, fmt.Errorf("%s: %w", op, err)
		}
		if res.DeletedCount == 0 {
			return struct{}{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return struct{}{}, nil
	})
	return err
}
