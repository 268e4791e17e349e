// Package mongoenv gives the project's tests MongoDB-protocol databases:
// FerretDB v1 on SQLite, which always runs, and a real MongoDB server at
// the URI of [MongoURIEnv].
//
// FerretDB runs as a child process, not linked into the test binary: the
// tests of mongostore (and of every package a library user imports) must
// not make FerretDB, SQLite in Go and their dependencies part of the users'
// go.sum. The child is the command infratest/cmd/ferretdb of the nested
// infratest module, taken, in this order, from:
//
//   - [FerretDBURIEnv]: the URI of a FerretDB server already running (no
//     child is started);
//   - [FerretDBBinEnv]: the path of a binary built from infratest/cmd/ferretdb;
//   - otherwise, built with `go build` through the repository's go.work
//     (found above the working directory) into a cache directory shared by
//     the test binaries of the machine ([os.UserCacheDir]/oauthstore-test),
//     keyed by the Go version and the files that decide what is built, so
//     that only the first test binary after a change builds it.
//
// A test binary starts at most one child, on 127.0.0.1 at a free port with
// its files in a temporary directory; [CloseMongo] stops it and removes the
// directory, and on Linux the child dies with the test binary.
//
// Servers in containers (testcontainers-go) are the nested infratest
// module's.
package mongoenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/internal/testenv/testreq"
)

// Environment variables naming the servers and the FerretDB binary.
const (
	// MongoURIEnv holds the URI of a real MongoDB server (standalone,
	// replica set or sharded cluster) for [MongoDB].
	MongoURIEnv = "OAUTHSTORE_TEST_MONGO_URI"
	// FerretDBURIEnv holds the URI of a running FerretDB v1 server for
	// [FerretDB], instead of a child process.
	FerretDBURIEnv = "OAUTHSTORE_TEST_FERRETDB_URI"
	// FerretDBBinEnv holds the path of a binary built from
	// infratest/cmd/ferretdb, started by [FerretDB] instead of one built
	// by the test.
	FerretDBBinEnv = "OAUTHSTORE_TEST_FERRETDB_BIN"
)

// serverTimeout bounds how long connecting to or pinging a server may take.
const serverTimeout = 10 * time.Second

// mongoServer is one shared server of the test binary: reached at most
// once, closed by [CloseMongo].
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

// FerretDB returns a fresh, empty database (with a unique name) on a
// FerretDB v1 server with its SQLite handler, dropped when t ends.
//
// The server (see the package documentation) speaks the MongoDB wire
// protocol, so a store is exercised exactly as against MongoDB, minus what
// FerretDB does not implement (transactions, TTL and partial indexes). It
// needs no outside service: when it cannot start, t fails, whatever
// OAUTHSTORE_TEST_REQUIRE says.
func FerretDB(t testing.TB) *mongo.Database {
	t.Helper()
	if _, err := FerretDBURI(); err != nil {
		t.Fatalf("FerretDB: %v (set %s to a running server's URI, or %s to a binary built from infratest/cmd/ferretdb)",
			err, FerretDBURIEnv, FerretDBBinEnv)
	}
	return freshDatabase(t, ferret.client)
}

// FerretDBURI starts the FerretDB server of [FerretDB] if it is not
// running yet and returns its mongodb:// URI, for examples, which have no
// testing.TB. Databases created through it are not dropped until
// [CloseMongo] removes the server's files.
func FerretDBURI() (string, error) {
	ferret.once.Do(func() {
		if uri := os.Getenv(FerretDBURIEnv); uri != "" {
			ferret.uri = uri
			if ferret.client, ferret.err = connect(uri); ferret.err == nil {
				ferret.close = func() { disconnect(ferret.client) }
			}
			return
		}
		ferret.client, ferret.uri, ferret.close, ferret.err = startFerretDB()
	})
	return ferret.uri, ferret.err
}

// startFerretDB starts the child process and connects to it.
func startFerretDB() (*mongo.Client, string, func(), error) {
	bin, err := ferretDBBinary()
	if err != nil {
		return nil, "", nil, err
	}
	child, err := startChild(bin)
	if err != nil {
		return nil, "", nil, err
	}
	client, err := connect(child.uri)
	if err != nil {
		child.stop()
		return nil, "", nil, err
	}
	return client, child.uri, func() {
		disconnect(client)
		child.stop()
	}, nil
}

// MongoDB returns a fresh, empty database (with a unique name) on the real
// MongoDB server at [MongoURIEnv], dropped when t ends.
//
// When the variable is set and the server cannot be reached, t is skipped,
// or fails under OAUTHSTORE_TEST_REQUIRE=all. When it is unset, t is
// skipped with a message naming it, even under OAUTHSTORE_TEST_REQUIRE=all:
// only a server someone asked for must answer. (The nested infratest
// module runs the MongoDB tests against a server in a container.)
func MongoDB(t testing.TB) *mongo.Database {
	t.Helper()
	uri := os.Getenv(MongoURIEnv)
	if uri == "" {
		t.Skipf("MongoDB unavailable: set %s to test against it (infratest runs one in a container)", MongoURIEnv)
	}
	mongod.once.Do(func() {
		mongod.uri = uri
		if mongod.client, mongod.err = connect(uri); mongod.err == nil {
			mongod.close = func() { disconnect(mongod.client) }
		}
	})
	if mongod.err != nil {
		testreq.Unavailable(t, "MongoDB", MongoURIEnv, mongod.err.Error())
	}
	return freshDatabase(t, mongod.client)
}

// CloseMongo stops the servers [FerretDB] and [MongoDB] started and removes
// FerretDB's files. Call it from TestMain after m.Run; without it the
// process exit stops them (on Linux) but FerretDB's temporary directory is
// left behind.
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
