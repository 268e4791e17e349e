package mongostore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/backendkit"
)

// PurgeExpired implements [storage.Storage], by the store's clock: it
// deletes codes and their used-markers whose expiry is before now, and
// tokens and their rotation markers whose purge instant ([backendkit.PurgeAt])
// is. The count covers codes and tokens; markers are part of their code or
// token.
//
// Each collection is purged in batches of at most [WithPurgeBatchSize]
// documents: the _ids of expired documents are read, then deleted a batch
// at a time by _id, with the expiry checked again so that a document
// changed in between (a code deleted and created again) is kept. ctx is
// checked between batches; on an error the count is what was deleted
// until then.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "mongostore: purge expired"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return 0, err
	}
	cut := before(s.now())
	codes, err := s.purge(ctx, s.codes, "expires_at", cut)
	if err != nil {
		return codes, fmt.Errorf("%s: codes: %w", op, err)
	}
	// Markers go after their codes: a code whose marker is gone but whose
	// used flag is missing is expired, so it still cannot be consumed.
	if _, err := s.purge(ctx, s.uses, "expires_at", cut); err != nil {
		return codes, fmt.Errorf("%s: used-markers: %w", op, err)
	}
	tokens, err := s.purge(ctx, s.tokens, "purge_at", cut)
	if err != nil {
		return codes + tokens, fmt.Errorf("%s: tokens: %w", op, err)
	}
	// Rotation markers after their tokens, for the same reason: a pair
	// whose marker is gone is past its refresh expiry.
	if _, err := s.purge(ctx, s.rotations, "expires_at", cut); err != nil {
		return codes + tokens, fmt.Errorf("%s: rotation markers: %w", op, err)
	}
	return codes + tokens, nil
}

// [Store.purge] reads the _ids of up to purgeRound batches with one find,
// but no more than purgeRoundMax _ids unless one batch is larger.
const (
	purgeRound    = 64
	purgeRoundMax = 1 << 16
)

// purge deletes the documents of c whose field is before cut, at most
// s.purgeBatch per DeleteMany, and returns how many it deleted.
//
// Each round finds the _ids of up to purgeRound batches of expired
// documents (purgeRoundMax at most, or one batch), with one query on the
// expiry index where the server has one, sorts them and deletes them a batch at a time, with the expiry again and
// both the batch's _id range and its _id list: the list bounds what one
// statement removes, and the range lets servers that evaluate filters in
// memory (FerretDB, whose $in is a linear search) skip every other
// document cheaply. Rounds go on until a find comes back short.
func (s *Store) purge(ctx context.Context, c *mongo.Collection, field string, cut bson.DateTime) (int64, error) {
	expired := bson.E{Key: field, Value: bson.D{{Key: "$lt", Value: cut}}}
	round := min(max(s.purgeBatch, min(s.purgeBatch, purgeRoundMax/purgeRound)*purgeRound), math.MaxInt32)
	find := options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(round)).
		SetBatchSize(int32(round))
	var deleted int64
	for {
		cur, err := c.Find(ctx, bson.D{expired}, find)
		if err != nil {
			return deleted, err
		}
		var ids []bson.RawValue
		for cur.Next(ctx) {
			id, err := cur.Current.LookupErr("_id")
			if err != nil {
				_ = cur.Close(ctx)
				return deleted, err
			}
			ids = append(ids, id)
		}
		err = cur.Err()
		_ = cur.Close(ctx)
		if err != nil {
			return deleted, err
		}
		// The store's _ids are all strings; sorted, a batch is a range.
		ranged := true
		for _, id := range ids {
			if id.Type != bson.TypeString {
				ranged = false
				break
			}
		}
		if ranged {
			slices.SortFunc(ids, func(a, b bson.RawValue) int { return strings.Compare(a.StringValue(), b.StringValue()) })
		}
		for start := 0; start < len(ids); start += s.purgeBatch {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			batch := ids[start:min(start+s.purgeBatch, len(ids))]
			byID := bson.D{}
			if ranged {
				byID = append(byID,
					bson.E{Key: "$gte", Value: batch[0]},
					bson.E{Key: "$lte", Value: batch[len(batch)-1]})
			}
			byID = append(byID, bson.E{Key: "$in", Value: batch})
			// The expiry again, first: a document changed since the find
			// (a code deleted and created again with the same value) is
			// not deleted, and live documents are ruled out cheaply.
			res, err := c.DeleteMany(ctx, bson.D{expired, {Key: "_id", Value: byID}})
			if err != nil {
				return deleted, err
			}
			deleted += res.DeletedCount
		}
		if len(ids) < round {
			return deleted, nil
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
	}
}
