package bench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
)

// mongostore on FerretDB, a child process (always), and on a real MongoDB (when
// OAUTHSTORE_TEST_MONGO_URI is set), against the
// floor: one FindOne by _id, the access token's digest, decoded into a
// struct with the fields mongostore reads.

type mongoBackend struct {
	db   string
	open func(t testing.TB) *mongo.Database
}

func mongoBackends() []*mongoBackend {
	return []*mongoBackend{
		{db: "ferretdb", open: mongoenv.FerretDB},
		{db: "mongodb", open: mongoenv.MongoDB},
	}
}

// tokenDoc is what the floor decodes: the fields of mongostore's token
// document that mongostore reads.
type tokenDoc struct {
	ID               string         `bson:"_id"`
	Gen              bson.ObjectID  `bson:"gen"`
	Refresh          string         `bson:"refresh,omitempty"`
	ClientID         string         `bson:"client_id"`
	GrantID          string         `bson:"grant_id,omitempty"`
	Scope            string         `bson:"scope,omitempty"`
	TokenType        string         `bson:"token_type"`
	UserID           string         `bson:"user_id,omitempty"`
	IssuedAt         bson.DateTime  `bson:"issued_at"`
	ExpiresAt        bson.DateTime  `bson:"expires_at"`
	RefreshExpiresAt *bson.DateTime `bson:"refresh_expires_at,omitempty"`
	PurgeAt          bson.DateTime  `bson:"purge_at"`
	Revoked          bool           `bson:"revoked"`
}

// tokensCollection is mongostore's token collection at its default prefix;
// every fixture has a database of its own.
const tokensCollection = mongostore.DefaultCollectionPrefix + mongostore.TokensCollection

func (mb *mongoBackend) openStore(t testing.TB, opts ...mongostore.Option) (*mongostore.Store, *mongo.Database) {
	t.Helper()
	db := mb.open(t)
	opts = append([]mongostore.Option{mongostore.WithTTLUnsupported(func(error) {})}, opts...)
	s, err := mongostore.New(context.Background(), db, opts...)
	if err != nil {
		t.Fatalf("mongostore.New on %s: %v", mb.db, err)
	}
	return s, db
}

func (mb *mongoBackend) fixture(tb testing.TB, n int) *fixture {
	return once(tb, "mongostore/"+mb.db+"/"+sizeName(n), func(t testing.TB) *fixture {
		ctx := context.Background()
		s, db := mb.openStore(t)
		space := newSpace()
		err := importTokens(ctx, s, n, func(i int) *models.Token {
			tok := tokenAt(space, uint64(i), "")
			return newToken(&tok)
		})
		if err != nil {
			t.Fatalf("filling %d tokens: %v", n, err)
		}
		coll := db.Collection(tokensCollection)
		f := &fixture{impl: ours{s}, sample: newSample(space, n), release: s.DeleteClient}
		f.floors = map[string]lookup{
			"findone": func(ctx context.Context, access string) (string, error) {
				return findOneToken(ctx, coll, access)
			},
		}
		return f
	})
}

func mongoTargets() []*target {
	var out []*target
	for _, mb := range mongoBackends() {
		tg := &target{db: mb.db, impl: "mongostore", fixture: mb.fixture, floors: []string{"findone"}}
		if mb.db == "ferretdb" {
			// FerretDB stores 100k documents too slowly for CI (about
			// 40 s), and it is a stand-in, not a production target.
			tg.purgeRows = 10_000
		}
		tg.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
			return once(tb, "mongostore/"+mb.db+"/clients/"+hs.name, func(t testing.TB) clientAuth {
				s, _ := mb.openStore(t, mongostore.WithHasher(hs.h))
				return newOurClients(t, s)
			})
		}
		tg.purger = func(tb testing.TB) *purgeFixture {
			return once(tb, "mongostore/"+mb.db+"/purge", func(t testing.TB) *purgeFixture {
				s, _ := mb.openStore(t)
				// PurgeExpired reads expired ids and deletes them in
				// batches, collection by collection; the whole call is
				// timed, an upper bound of its longest statement.
				p := &purgeFixture{s: s, wholeCall: true}
				p.fill = func(ctx context.Context, space uint32, n int, expired bool) error {
					return importTokens(ctx, s, n, func(i int) *models.Token { return purgeToken(space, uint64(i), expired) })
				}
				return p.setUp(t)
			})
		}
		out = append(out, tg)
	}
	return out
}

// findOneToken is the floor on MongoDB: one FindOne by _id, the access
// token's digest, decoded into the fields mongostore reads, and the
// token's liveness; it returns the client ID or errMiss.
func findOneToken(ctx context.Context, coll *mongo.Collection, access string) (string, error) {
	var d tokenDoc
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: secret.Digest(access)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	if d.Revoked || time.Now().After(d.ExpiresAt.Time()) {
		return "", fmt.Errorf("token of client %q not live", d.ClientID)
	}
	return d.ClientID, nil
}
