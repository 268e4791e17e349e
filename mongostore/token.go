package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// rotateAttempts bounds how many times [Store.RotateToken] starts over when
// the rotation marker that made its insert fail is gone by the time it reads
// it (the rotation that inserted it was rolled back).
const rotateAttempts = 4

// CreateToken implements [storage.TokenStore]. The pair is one document, so
// a taken access or refresh token rejects it whole.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "mongostore: create token"
	n, err := s.cred.StartCreateToken(ctx, op, t)
	if err != nil {
		return err
	}
	if _, err := s.tokens.InsertOne(ctx, s.newTokenDoc(&n)); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s for client %q: %w", op, n.ClientID, err)
	}
	return nil
}

// newTokenDoc returns the document of the normalized pair n, a new

func (s *Store) findToken(ctx context.Context, op string, filter bson.D) (*tokenDoc, error) {
	var d tokenDoc
	if err := s.tokens.FindOne(ctx, filter).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &d, nil
}

// GetTokenByAccess implements [storage.TokenStore]. It reads the pair's
// document alone: see the package documentation for the one case (a
// rotation that stopped half-way) in which that lets a rotated pair's
// access token live until it expires.
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "mongostore: get token by access token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	d, err := backendkit.Lookup(s.cred, accessToken, func(digest string) (*tokenDoc, error) {
		return s.findToken(ctx, op, bson.D{{Key: "_id", Value: digest}})
	})
	if err != nil {
		return nil, err
	}
	t := d.token()
	if err := backendkit.CheckAccess(t, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t.AccessToken = accessToken
	return t, nil
}

// GetTokenByRefresh implements [storage.TokenStore]. A pair is revoked if
// its document is flagged or, for its refresh token, if its rotation
// marker exists.
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "mongostore: get token by refresh token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	d, err := backendkit.Lookup(s.cred, refreshToken, func(digest string) (*tokenDoc, error) {
		return s.findToken(ctx, op, bson.D{{Key: "refresh", Value: digest}})
	})
	if err != nil {
		return nil, err
	}
	t := d.token()
	if !t.Revoked {
		m, err := s.findRotation(ctx, op, d)
		if err != nil {
			return nil, err
		}
		t.Revoked = m != nil
	}
	if err := backendkit.CheckRefresh(t, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t.RefreshToken = refreshToken
	return t, nil
}

// findRotation returns the rotation marker of the pair of document d, or
// nil if it has none.
func (s *Store) findRotation(ctx context.Context, op string, d *tokenDoc) (*rotationDoc, error) {
	var m rotationDoc
	err := s.rotations.FindOne(ctx, bson.D{{Key: "_id", Value: markerID(d.Refresh, d.Gen)}}).Decode(&m)
	switch {
	case err == nil:
		return &m, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil
	}
	return nil, fmt.Errorf("%s of client %q: reading the rotation marker: %w", op, d.ClientID, err)
}

// RevokeToken implements [storage.TokenStore]. token is looked up as an
// access token first, then as a refresh token; the pair's one document is
// flagged revoked. It is idempotent, so no single winner is needed.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "mongostore: revoke token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	revoke := bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}}
	// A value may be one pair's access token and another's refresh token
	// (under the same key or, after a rotation, different keys): both
	// pairs are revoked.
	var filters []bson.D
	for _, digest := range s.cred.Digests(token) {
		filters = append(filters, bson.D{{Key: "_id", Value: digest}})
		if token != "" {
			filters = append(filters, bson.D{{Key: "refresh", Value: digest}})
		}
	}
	matched := false
	for _, f := range filters {
		res, err := s.tokens.UpdateOne(ctx, f, revoke)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		matched = matched || res.MatchedCount > 0
	}
	if !matched {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// RotateToken implements [storage.TokenStore] without a transaction, in
// three writes: the insert of a rotation marker decides the one winner, the
// new pair is inserted, the old pair is flagged revoked. See the package
// documentation for the steps, the races between them and what a crash in
// between leaves.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "mongostore: rotate token"
	n, err := s.cred.StartRotate(ctx, op, refreshToken, next)
	if err != nil {
		return err
	}
	_, err = backendkit.Lookup(s.cred, refreshToken, func(digest string) (struct{}, error) {
		return struct{}{}, s.rotate(ctx, op, digest, n)
	})
	return err
}

// rotate is [Store.RotateToken] of the refresh token stored under digest.
func (s *Store) rotate(ctx context.Context, op, digest string, n models.Token) error {
	byRefresh := bson.D{{Key: "refresh", Value: digest}}
	for attempt := 1; ; attempt++ {
		d, err := s.findToken(ctx, op, byRefresh)
		if err != nil {
			return err
		}
		now := s.now()
		m, err := s.claimRotation(ctx, op, d, n, now)
		if err != nil || m != nil {
			return err
		}
		// Lost the race: the marker another rotation inserted names the
		// rotated pair. If it is gone, that rotation was undone (its new
		// pair was rejected): look again.
		if m, err = s.findRotation(ctx, op, d); err != nil {
			return err
		}
		if m == nil && attempt < rotateAttempts {
			continue
		}
		return s.reused(ctx, op, d, m, now)
	}
}

// claimRotation takes the decisions of a rotation of the pair of document
// d at now to the pair n (normalized), and inserts the rotation marker. It
// returns nil, nil if another caller's marker was there: this caller lost.
// Otherwise it finishes the rotation ([Store.finishRotation]) and returns
// the marker, or returns the error that ends the call: a reuse, an expiry,
// a mismatch or a failure.
func (s *Store) claimRotation(ctx context.Context, op string, d *tokenDoc, n models.Token, now time.Time) (*rotationDoc, error) {
	old := d.token()
	if old.Revoked {
		m, err := s.findRotation(ctx, op, d)
		if err != nil {
			return nil, err
		}
		return nil, s.reused(ctx, op, d, m, now)
	}
	if err := backendkit.CheckRefresh(old, now); err != nil {
		// Revoked takes precedence over expired: a rotation that stopped
		// before flagging the pair left only its marker.
		m, ferr := s.findRotation(ctx, op, d)
		if ferr != nil {
			return nil, ferr
		}
		if m != nil {
			return nil, s.reused(ctx, op, d, m, now)
		}
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	if err := backendkit.Successor(old, &n); err != nil {
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	if n.GrantID == "" {
		// The old pair was stored before grants: its successor starts one.
		n.GrantID = backendkit.NewGrantID()
	}
	nd := s.newTokenDoc(&n)
	m := newRotation(d, nd, now)
	if _, err := s.rotations.InsertOne(ctx, m); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
	}
	return m, s.finishRotation(ctx, op, d, m, nd)
}

// newRotation returns the rotation marker of the replacement at now of the
// pair of document d by the pair of document nd.
func newRotation(d, nd *tokenDoc, now time.Time) *rotationDoc {
	return &rotationDoc{
		ID:        markerID(d.Refresh, d.Gen),
		GrantID:   nd.GrantID,
		ClientID:  d.ClientID,
		Next:      nd.ID,
		RotatedAt: date(ceilMillis(now)),
		ExpiresAt: d.PurgeAt,
	}
}

// ceilMillis rounds t up to the millisecond, the precision of BSON dates:
// a reuse interval measured from the stored instant is never shortened.
func ceilMillis(t time.Time) time.Time {
	return time.UnixMilli(backendkit.CeilMillis(t)).UTC()
}

// finishRotation is the rest of the rotation whose marker m the caller
// inserted, replacing the pair of document d by the pair of document nd:
// it inserts nd (or, if a credential of nd is taken, deletes m again and
// fails with [storage.ErrAlreadyExists]), flags d revoked, and reads m
// again: a caller that lost the race and flagged m reused may have revoked
// the grant before nd was inserted, so the grant is revoked again. It is
// not cancelled with ctx: the rotation was decided.
func (s *Store) finishRotation(ctx context.Context, op string, d *tokenDoc, m *rotationDoc, nd *tokenDoc) error {
	fctx, cancel := detached(ctx)
	defer cancel()
	if _, err := s.tokens.InsertOne(fctx, nd); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			// nd may have been written: the marker stays, so the old
			// refresh token is spent either way.
			return fmt.Errorf("%s for client %q: storing the new pair: %w", op, d.ClientID, err)
		}
		// Nothing of nd was written: undo the marker, the old pair is
		// untouched.
		if _, derr := s.rotations.DeleteOne(fctx, bson.D{{Key: "_id", Value: m.ID}}); derr != nil {
			return fmt.Errorf("%s for client %q: %w (the refresh token is spent: removing its rotation marker failed: %v)", op, d.ClientID, storage.ErrAlreadyExists, derr)
		}
		return fmt.Errorf("%s for client %q: %w", op, d.ClientID, storage.ErrAlreadyExists)
	}
	// Best effort: the marker already makes the old refresh token revoked.
	// The filter names the pair by both its credentials.
	_, _ = s.tokens.UpdateOne(fctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "refresh", Value: d.Refresh}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	cur, err := s.findRotation(fctx, op, d)
	if err != nil {
		return err
	}
	if cur != nil && cur.Reused {
		if err := s.revokeGrantTokens(fctx, nd.GrantID); err != nil {
			return fmt.Errorf("%s for client %q: refresh token reused during the rotation; revoking its grant: %w", op, d.ClientID, err)
		}
	}
	return nil
}

// reused handles the reuse at now of the refresh token of document d,
// rotated by marker m (nil if the pair was revoked, not rotated): within
// the reuse interval after a rotation it changes nothing; otherwise it
// flags m reused and revokes every token of the grant. Either way it
// returns an error matching [storage.ErrRevoked]. The writes are not
// cancelled with ctx: a reuse is acted upon even if its caller hangs up.
func (s *Store) reused(ctx context.Context, op string, d *tokenDoc, m *rotationDoc, now time.Time) error {
	var rotatedAt time.Time
	if m != nil {
		rotatedAt = fromDate(m.RotatedAt)
	}
	if backendkit.ReuseWithinInterval(rotatedAt, s.reuse, now) {
		return fmt.Errorf("mongostore: %w", backendkit.ReuseError(d.ClientID, false))
	}
	rctx, cancel := detached(ctx)
	defer cancel()
	grant := d.GrantID
	if m != nil {
		if _, err := s.rotations.UpdateOne(rctx, bson.D{{Key: "_id", Value: m.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "reused", Value: true}}}}); err != nil {
			return fmt.Errorf("%s of client %q: refresh token reused (%w); flagging its rotation: %w", op, d.ClientID, storage.ErrRevoked, err)
		}
		if grant == "" {
			grant = m.GrantID // a pair stored before grants: its successor's
		}
	}
	if err := s.revokeGrantTokens(rctx, grant); err != nil {
		return fmt.Errorf("%s of client %q: refresh token reused (%w); revoking its grant: %w", op, d.ClientID, storage.ErrRevoked, err)
	}
	return fmt.Errorf("mongostore: %w", backendkit.ReuseError(d.ClientID, true))
}
