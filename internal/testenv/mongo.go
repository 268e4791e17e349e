package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/testcontainers/testcontainers-go"
	tcmongodb "github.com/testcontainers/testcontainers-go/modules/mongodb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MongoURIEnv names the variable giving the URI of a real MongoDB server
// (standalone, replica set or sharded cluster) for [MongoDB].
const MongoURIEnv = "OAUTHSTORE_TEST_MONGO_URI"

// MongoImage is the image [MongoDB] starts through testcontainers-go when
// [MongoURIEnv] is unset and a Docker engine answers.
const MongoImage = "mongo:7"

// serverTimeout bounds how long connecting to or pinging a server may take.
const serverTimeout = 10 * time.Second

// mongoServer is one shared server of the test binary: started at most once,
// closed by [CloseMongo].
type mongoServer struct {
	once   sync.Once
	client *mongo.Client
	uri    string
	err    error // why the server is unavailable; nil if client is set
	close  func()
}

var (
	ferret mongoServer
	mongod mongoServer
)

// FerretDB returns a fresh, empty database (with a unique name) on an
// embedded FerretDB v1 server with its SQLite handler, dropped when t ends.
//
// The server is started once per test binary, on 127.0.0.1 at a free port,
// with its SQLite files in a directory under [os.TempDir]; [CloseMongo]
// stops it and removes that directory. It speaks the MongoDB wire protocol,
// so a store is exercised exactly as against MongoDB, minus what FerretDB
// does not implement (transactions, TTL and partial indexes). It needs no
// outside service, so it never skips.
func FerretDB(t testing.TB) *mongo.Database {
	t.Helper()
	if _, err := FerretDBURI(); err != nil {
		t.Fatalf("embedded FerretDB: %v", err)
	}
	return freshDatabase(t, ferret.client)
}

// FerretDBURI starts the embedded FerretDB server of [FerretDB] if it is
// not running yet and returns its mongodb:// URI, for examples, which have
// no testing.TB. Databases created through it are not dropped until
// [CloseMongo] removes the server's files.
func FerretDBURI() (string, error) {
	ferret.once.Do(func() { ferret.client, ferret.uri, ferret.close, ferret.err = startFerretDB() })
	return ferret.uri, ferret.err
}

func startFerretDB() (*mongo.Client, string, func(), error) {
	dir, err := os.MkdirTemp("", "oauthstore-ferretdb-")
	if err != nil {
		return nil, "", nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		// FerretDB logs every connection at Info and some client hang-ups
		// at Warn; only errors are of interest to a test run.
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	// MongoDBURI waits for Run to have opened the listener.
	uri := f.MongoDBURI()
	client, err := connect(uri)
	stop := func() {
		cancel()
		<-done
		_ = os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return client, uri, func() {
		disconnect(client)
		stop()
	}, nil
}

// MongoDB returns a fresh, empty database (with a unique name) on a real
// MongoDB server, dropped when t ends.
//
// The server is the one at [MongoURIEnv] when that variable is set: if it
// cannot be reached, t is skipped, or fails under OAUTHSTORE_TEST_REQUIRE=all.
// Otherwise, when a Docker engine answers, a [MongoImage] container started
// once per test binary through testcontainers-go (stopped by [CloseMongo]).
// Otherwise t is skipped with a message naming [MongoURIEnv], even under
// OAUTHSTORE_TEST_REQUIRE=all: only a server someone asked for must answer.
func MongoDB(t testing.TB) *mongo.Database {
	t.Helper()
	uri, fromEnv := os.LookupEnv(MongoURIEnv)
	fromEnv = fromEnv && uri != ""
	mongod.once.Do(func() {
		if fromEnv {
			if mongod.client, mongod.err = connect(uri); mongod.err == nil {
				mongod.close = func() { disconnect(mongod.client) }
			}
			return
		}
		mongod.client, mongod.close, mongod.err = startMongoContainer()
	})
	if mongod.err != nil {
		if fromEnv {
			Unavailable(t, "MongoDB", MongoURIEnv, mongod.err.Error())
		}
		t.Skipf("MongoDB unavailable (%v): set %s to test against it", mongod.err, MongoURIEnv)
	}
	return freshDatabase(t, mongod.client)
}

func startMongoContainer() (client *mongo.Client, stop func(), err error) {
	defer func() {
		// testcontainers-go panics on some broken Docker set-ups.
		if r := recover(); r != nil {
			client, stop, err = nil, nil, fmt.Errorf("no Docker engine: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	provider, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return nil, nil, fmt.Errorf("no Docker engine: %w", err)
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return nil, nil, fmt.Errorf("no Docker engine: %w", err)
	}

	runCtx, runCancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer runCancel()
	c, err := tcmongodb.Run(runCtx, MongoImage)
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.Background())
		}
		return nil, nil, fmt.Errorf("starting %s container: %w", MongoImage, err)
	}
	terminate := func() { _ = c.Terminate(context.Background()) }
	uri, err := c.ConnectionString(runCtx)
	if err != nil {
		terminate()
		return nil, nil, err
	}
	client, err = connect(uri)
	if err != nil {
		terminate()
		return nil, nil, err
	}
	return client, func() {
		disconnect(client)
		terminate()
	}, nil
}

// CloseMongo stops the servers [FerretDB] and [MongoDB] started and removes
// FerretDB's files. Call it from TestMain after m.Run; without it the
// process exit stops them but FerretDB's temporary directory is left behind.
func CloseMongo() {
	for _, s := range []*mongoServer{&ferret, &mongod} {
		// Do runs nothing if the server was started, and marks an unused one
		// as never to be started.
		s.once.Do(func() { s.err = errors.New("closed") })
		if s.close != nil {
			s.close()
			s.close = nil
		}
	}
}

func connect(uri string) (*mongo.Client, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(serverTimeout))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		disconnect(client)
		return nil, err
	}
	return client, nil
}

func disconnect(client *mongo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	_ = client.Disconnect(ctx)
}

// freshDatabase returns a database of client no other call returns,
// dropped when t ends.
func freshDatabase(t testing.TB, client *mongo.Client) *mongo.Database {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	db := client.Database("oauthstore_test_" + hex.EncodeToString(b[:]))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("dropping test database %s: %v", db.Name(), err)
		}
	})
	return db
}
