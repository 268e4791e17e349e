package infratest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/examples/authserver/e2e"
	"github.com/oauthstore/oauthstore/infratest/internal/containers"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// mongoDump is a store whose database (every document of every collection
// in it) is its dump.
type mongoDump struct {
	*mongostore.Store
	db *mongo.Database
}

func (d mongoDump) DumpRaw(ctx context.Context) ([]byte, error) { return dumpMongo(ctx, d.db) }

var _ conformance.RawDumper = mongoDump{}

// dumpMongo returns every document of every collection of db, each as raw
// BSON followed by its canonical extended JSON.
func dumpMongo(ctx context.Context, db *mongo.Database) ([]byte, error) {
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			return nil, err
		}
		for cur.Next(ctx) {
			buf.Write(cur.Current)
			j, err := bson.MarshalExtJSON(cur.Current, true, false)
			if err != nil {
				_ = cur.Close(ctx)
				return nil, err
			}
			fmt.Fprintf(&buf, "\n%s: %s\n", name, j)
		}
		err = cur.Err()
		_ = cur.Close(ctx)
		if err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// mongoClient connects to srv, disconnected when t ends.
func mongoClient(t *testing.T, srv *containers.Server) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(srv.DSN).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("mongo.Connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c
}

// freshMongoDB returns a database of its own, dropped when t ends.
func freshMongoDB(t *testing.T, c *mongo.Client) *mongo.Database {
	t.Helper()
	db := c.Database(randomName("it_"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("dropping database %s: %v", db.Name(), err)
		}
	})
	return db
}

// newMongoStore returns a store on db under a random collection prefix,
// with the fast test hasher.
func newMongoStore(t *testing.T, db *mongo.Database, opts ...mongostore.Option) *mongostore.Store {
	t.Helper()
	opts = append([]mongostore.Option{
		mongostore.WithHasher(secret.ForTests()),
		mongostore.WithCollectionPrefix(randomName("p") + "_"),
		// FerretDB refuses TTL indexes; the store then relies on
		// PurgeExpired, which the suite exercises either way.
		mongostore.WithTTLUnsupported(func(error) {}),
	}, opts...)
	s, err := mongostore.New(t.Context(), db, opts...)
	if err != nil {
		t.Fatalf("mongostore.New: %v", err)
	}
	return s
}

func TestMongo(t *testing.T) {
	t.Parallel()
	srv := containers.Start(t, containers.Mongo)
	client := mongoClient(t, srv)

	// Which server answers, and whether it took TTL indexes: for the log.
	var info bson.M
	if err := client.Database("admin").RunCommand(t.Context(), bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatalf("buildInfo: %v", err)
	}
	probe := newMongoStore(t, freshMongoDB(t, client))
	t.Logf("server: version %v, ferretdbVersion %v (nil: not FerretDB); TTL indexes: %t", info["version"], info["ferretdbVersion"], probe.TTLEnabled())

	t.Run("Conformance", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
			db := freshMongoDB(t, client)
			return mongoDump{newMongoStore(t, db, mongostore.WithClock(clock)), db}
		})
	})
	t.Run("ReuseInterval", func(t *testing.T) {
		conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
			db := freshMongoDB(t, client)
			return mongoDump{newMongoStore(t, db, mongostore.WithClock(clock), mongostore.WithReuseInterval(interval)), db}
		})
	})
	t.Run("EndToEnd", func(t *testing.T) {
		e2e.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
			return newMongoStore(t, freshMongoDB(t, client), mongostore.WithClock(clock))
		})
	})
}
