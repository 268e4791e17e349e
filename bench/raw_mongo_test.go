package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
)

// BenchmarkConcurrency on FerretDB (and MongoDB when
// OAUTHSTORE_TEST_MONGO_URI is set): mongostore on the driver's default
// pool (MaxPoolSize 100: enough for 64 callers; at 256 callers, callers
// wait for a connection), and impl=raw on the same *mongo.Database (the
// same client and pool): mongostore's commands (see mongostore/token.go
// and code.go), with the documents it writes (tokenDoc of mongo_test.go,
// rawCodeDoc, rawUseDoc and rawRotationDoc below, the same fields), so
// that mongostore reads what raw writes. Raw skips only the decisions of
// the paths not taken (replays, reuses, lost races).

// concFixture is mongostore on a fresh database holding small tokens, and
// raw on its database.
func (mb *mongoBackend) concFixture(tb testing.TB) *concFixture {
	return once(tb, "conc/mongostore/"+mb.db, func(t testing.TB) *concFixture {
		ctx := context.Background()
		s, db := mb.openStore(t)
		space := newSpace()
		err := importTokens(ctx, s, small, func(i int) *models.Token {
			tok := tokenAt(space, uint64(i), "")
			return newToken(&tok)
		})
		if err != nil {
			t.Fatalf("filling %d tokens: %v", small, err)
		}
		o := ours{s}
		f := &concFixture{store: o, sample: newSample(space, small), release: s.DeleteClient,
			impls: map[string]*concImpl{"mongostore": oursConc(o), "raw": newRawMongo(db).impl()}}
		if err := warmUp(ctx, f); err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// rawCodeDoc is mongostore's code document.
type rawCodeDoc struct {
	ID                  string        `bson:"_id"`
	Gen                 bson.ObjectID `bson:"gen"`
	ClientID            string        `bson:"client_id"`
	GrantID             string        `bson:"grant_id,omitempty"`
	RedirectURI         string        `bson:"redirect_uri,omitempty"`
	ResponseType        string        `bson:"response_type,omitempty"`
	Scope               string        `bson:"scope,omitempty"`
	AuthTime            bson.DateTime `bson:"auth_time"`
	ExpiresAt           bson.DateTime `bson:"expires_at"`
	CodeChallenge       string        `bson:"code_challenge,omitempty"`
	CodeChallengeMethod string        `bson:"code_challenge_method,omitempty"`
	Nonce               string        `bson:"nonce,omitempty"`
	UserID              string        `bson:"user_id,omitempty"`
	Used                bool          `bson:"used"`
}

// rawUseDoc is mongostore's used-marker of a consumed code.
type rawUseDoc struct {
	ID        string        `bson:"_id"`
	Code      string        `bson:"code"`
	ClientID  string        `bson:"client_id"`
	ExpiresAt bson.DateTime `bson:"expires_at"`
	UsedAt    bson.DateTime `bson:"used_at"`
}

// rawRotationDoc is mongostore's rotation marker.
type rawRotationDoc struct {
	ID        string        `bson:"_id"`
	GrantID   string        `bson:"grant_id,omitempty"`
	ClientID  string        `bson:"client_id"`
	Next      string        `bson:"next"`
	RotatedAt bson.DateTime `bson:"rotated_at"`
	ExpiresAt bson.DateTime `bson:"expires_at"`
	Reused    bool          `bson:"reused"`
}

// rawMongo holds mongostore's collections at the default prefix.
type rawMongo struct {
	codes, uses, tokens, rotations *mongo.Collection
}

// newRawMongo returns mongostore's collections in db, read from the
// primary as mongostore reads them.
func newRawMongo(db *mongo.Database) *rawMongo {
	copts := options.Collection().SetReadPreference(readpref.Primary())
	c := func(name string) *mongo.Collection {
		return db.Collection(mongostore.DefaultCollectionPrefix+name, copts)
	}
	return &rawMongo{codes: c(mongostore.CodesCollection), uses: c(mongostore.CodeUsesCollection),
		tokens: c(mongostore.TokensCollection), rotations: c(mongostore.RotationsCollection)}
}

// impl returns the concImpl of r.
func (r *rawMongo) impl() *concImpl {
	return &concImpl{lookup: r.lookup, create: r.create, exchange: r.exchange, rotate: r.rotate}
}

// rawMarkerID is mongostore's markerID.
func rawMarkerID(digest string, gen bson.ObjectID) string { return digest + "." + gen.Hex() }

// lookup is GetTokenByAccess: one FindOne by _id.
func (r *rawMongo) lookup(ctx context.Context, access string) (string, error) {
	return findOneToken(ctx, r.tokens, access)
}

// newDoc is mongostore's document of the pair t in grant grantID.
func (r *rawMongo) newDoc(t *tokenIn, grantID string) *tokenDoc {
	refExp := bson.NewDateTimeFromTime(issued.Add(refreshTTL))
	return &tokenDoc{
		ID:               secret.Digest(t.access),
		Gen:              bson.NewObjectID(),
		Refresh:          secret.Digest(t.refresh),
		ClientID:         t.clientID,
		GrantID:          grantID,
		Scope:            scope,
		TokenType:        models.DefaultTokenType,
		UserID:           t.userID,
		IssuedAt:         bson.NewDateTimeFromTime(issued),
		ExpiresAt:        bson.NewDateTimeFromTime(issued.Add(accessTTL)),
		RefreshExpiresAt: &refExp,
		PurgeAt:          refExp, // the refresh token outlives the access token
	}
}

// create is CreateToken: one InsertOne.
func (r *rawMongo) create(ctx context.Context, t *tokenIn) error {
	_, err := r.tokens.InsertOne(ctx, r.newDoc(t, backendkit.NewGrantID()))
	return err
}

// exchange is CreateAuthorizationCode (InsertOne) and
// ConsumeAuthorizationCode: FindOne by _id, InsertOne of the used-marker
// (the single winner), FindOneAndUpdate flagging the document used.
func (r *rawMongo) exchange(ctx context.Context, c *codeIn) error {
	doc := rawCodeDoc{
		ID: secret.Digest(c.code), Gen: bson.NewObjectID(), ClientID: c.clientID, GrantID: backendkit.NewGrantID(),
		RedirectURI: redirect, ResponseType: "code", Scope: scope,
		AuthTime: bson.NewDateTimeFromTime(issued), ExpiresAt: bson.NewDateTimeFromTime(issued.Add(codeTTL)),
		CodeChallenge: challenge, CodeChallengeMethod: string(models.CodeChallengeS256), UserID: c.userID,
	}
	if _, err := r.codes.InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("storing a code: %w", err)
	}
	var d rawCodeDoc
	if err := r.codes.FindOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}).Decode(&d); err != nil {
		return fmt.Errorf("reading a code: %w", err)
	}
	now := time.Now()
	if d.Used || now.After(d.ExpiresAt.Time()) {
		return fmt.Errorf("code of client %q not live", d.ClientID)
	}
	marker := rawUseDoc{ID: rawMarkerID(d.ID, d.Gen), Code: d.ID, ClientID: d.ClientID, ExpiresAt: d.ExpiresAt,
		UsedAt: bson.NewDateTimeFromTime(now)}
	if _, err := r.uses.InsertOne(ctx, marker); err != nil {
		return fmt.Errorf("marking a code used: %w", err)
	}
	var was struct {
		Used bool `bson:"used"`
	}
	err := r.codes.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "gen", Value: d.Gen}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&was)
	if err != nil || was.Used {
		return fmt.Errorf("flagging a code used: was used %v, error %v", was.Used, err)
	}
	if d.ClientID != c.clientID {
		return fmt.Errorf("consumed code of client %q, want %q", d.ClientID, c.clientID)
	}
	return nil
}

// rotate is RotateToken: FindOne by refresh digest, InsertOne of the
// rotation marker (the single winner), InsertOne of the new pair in the
// old one's grant, UpdateOne flagging the old pair revoked, FindOne of the
// marker (was it flagged reused meanwhile).
func (r *rawMongo) rotate(ctx context.Context, old, next *tokenIn) error {
	var d tokenDoc
	if err := r.tokens.FindOne(ctx, bson.D{{Key: "refresh", Value: secret.Digest(old.refresh)}}).Decode(&d); err != nil {
		return fmt.Errorf("reading the old pair: %w", err)
	}
	now := time.Now()
	if d.Revoked || d.RefreshExpiresAt == nil || now.After(d.RefreshExpiresAt.Time()) || d.ClientID != next.clientID {
		return fmt.Errorf("old pair of client %q cannot be rotated", d.ClientID)
	}
	nd := r.newDoc(next, d.GrantID)
	m := rawRotationDoc{ID: rawMarkerID(d.Refresh, d.Gen), GrantID: nd.GrantID, ClientID: d.ClientID, Next: nd.ID,
		RotatedAt: bson.DateTime(backendkit.CeilMillis(now)), ExpiresAt: d.PurgeAt}
	if _, err := r.rotations.InsertOne(ctx, m); err != nil {
		return fmt.Errorf("storing the rotation marker: %w", err)
	}
	if _, err := r.tokens.InsertOne(ctx, nd); err != nil {
		return fmt.Errorf("storing the new pair: %w", err)
	}
	if _, err := r.tokens.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "refresh", Value: d.Refresh}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}}); err != nil {
		return fmt.Errorf("revoking the old pair: %w", err)
	}
	var cur rawRotationDoc
	if err := r.rotations.FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}).Decode(&cur); err != nil || cur.Reused {
		return fmt.Errorf("reading the rotation marker back: reused %v, error %v", cur.Reused, err)
	}
	return nil
}
