package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index names, as listed by listIndexes.
const (
	indexClientID  = "client_id_1"
	indexOwner     = "user_id_1__id_1"
	indexGrantID   = "grant_id_1"
	indexRefresh   = "refresh_1_unique"
	indexCode      = "code_1"
	indexExpiry    = "expires_at_1"     // plain index where TTL is refused
	indexExpiryTTL = "expires_at_1_ttl" // TTL index
	indexPurge     = "purge_at_1"
	indexPurgeTTL  = "purge_at_1_ttl"
)

func (s *Store) createIndexes(ctx context.Context) error {
	// _id indexes, always unique, hold the client ID, the code digest and
	// the access token digest.
	plain := []struct {
		c      *mongo.Collection
		models []mongo.IndexModel
	}{
		// ListClients of one owner: user_id equality, then _id order.
		{s.clients, []mongo.IndexModel{
			{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName(indexOwner)},
		}},
		{s.codes, []mongo.IndexModel{
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
			{Keys: bson.D{{Key: "grant_id", Value: 1}}, Options: options.Index().SetName(indexGrantID)},
		}},
		{s.uses, []mongo.IndexModel{
			{Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetName(indexCode)},
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
		}},
		{s.tokens, []mongo.IndexModel{
			// A token without a refresh token has no refresh field; the
			// index is sparse so that such tokens do not collide on a
			// missing value. (FerretDB ignores sparse but, like a sparse
			// index, lets any number of documents lack the field.)
			{Keys: bson.D{{Key: "refresh", Value: 1}}, Options: options.Index().SetName(indexRefresh).SetUnique(true).SetSparse(true)},
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
			{Keys: bson.D{{Key: "grant_id", Value: 1}}, Options: options.Index().SetName(indexGrantID)},
		}},
		{s.rotations, []mongo.IndexModel{
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
		}},
	}
	for _, p := range plain {
		// One index per request: FerretDB v1.24 panics on a request naming
		// two or more indexes that already exist.
		for _, m := range p.models {
			if _, err := p.c.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("creating indexes of %s: %w", p.c.Name(), err)
			}
		}
	}

	expiry := []struct {
		c                *mongo.Collection
		field, ttl, name string
	}{
		{s.codes, "expires_at", indexExpiryTTL, indexExpiry},
		{s.uses, "expires_at", indexExpiryTTL, indexExpiry},
		{s.tokens, "purge_at", indexPurgeTTL, indexPurge},
		{s.rotations, "expires_at", indexExpiryTTL, indexExpiry},
	}
	s.ttl = true
	for _, e := range expiry {
		if s.ttl {
			err := s.createTTLIndex(ctx, e.c, e.field, e.ttl)
			if err == nil {
				continue
			}
			if !isUnsupported(err) {
				return fmt.Errorf("creating TTL index of %s: %w", e.c.Name(), err)
			}
			s.ttl = false
			if s.onTTLUnsupported != nil {
				s.onTTLUnsupported(err)
			}
		}
		m := mongo.IndexModel{Keys: bson.D{{Key: e.field, Value: 1}}, Options: options.Index().SetName(e.name)}
		if _, err := e.c.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("creating index of %s: %w", e.c.Name(), err)
		}
	}
	return nil
}

// createTTLIndex creates the TTL index on field, or sets its grace period
// if it exists with another.
func (s *Store) createTTLIndex(ctx context.Context, c *mongo.Collection, field, name string) error {
	secs := int64(math.Ceil(s.grace.Seconds()))
	if secs > math.MaxInt32 {
		secs = math.MaxInt32
	}
	m := mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetName(name).SetExpireAfterSeconds(int32(secs)),
	}
	_, err := c.Indexes().CreateOne(ctx, m)
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(codeIndexOptionsConflict) {
		// Same key and name, another expireAfterSeconds: change it in place.
		cmd := bson.D{
			{Key: "collMod", Value: c.Name()},
			{Key: "index", Value: bson.D{{Key: "name", Value: name}, {Key: "expireAfterSeconds", Value: int32(secs)}}},
		}
		err = c.Database().RunCommand(ctx, cmd).Err()
	}
	return err
}

// Server error codes the store tells apart.
const (
	codeCommandNotSupported  = 115
	codeIndexOptionsConflict = 85
	codeNotImplemented       = 238
)

func isUnsupported(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(codeNotImplemented) || se.HasErrorCode(codeCommandNotSupported))
}
