package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{args: nil, check: func(t *testing.T, c *config) {
			if c.handler != "postgresql" || c.listenAddr != "127.0.0.1:27017" || c.postgresqlURL == "" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{args: []string{"--handler", "sqlite", "--state-dir", "/s"}, check: func(t *testing.T, c *config) {
			if c.sqliteURL != "file:/s/sqlite/" {
				t.Errorf("sqlite default URL %q, want file:/s/sqlite/", c.sqliteURL)
			}
		}},
		{args: []string{"--handler=sqlite", "--sqlite-url=file:data/"}, check: func(t *testing.T, c *config) {
			if c.sqliteURL != "file:data/" {
				t.Errorf("sqlite URL %q", c.sqliteURL)
			}
		}},
		{args: []string{"--handler=mysql"}, wantErr: "want postgresql or sqlite"},
		{args: []string{"--handler=sqlite", "--sqlite-url=data"}, wantErr: "directory URI"},
		{args: []string{"--postgresql-url="}, wantErr: "needs --postgresql-url"},
		{args: []string{"--listen-addr="}, wantErr: "--listen-addr is empty"},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
	} {
		c, err := parseFlags(tc.args)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseFlags(%q): error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("parseFlags(%q): %v", tc.args, err)
		default:
			tc.check(t, c)
		}
	}
}

// TestServeSQLite runs the server on the SQLite handler at a free port of
// 127.0.0.1, writes and reads a document through the MongoDB driver, and
// stops it by canceling its context.
func TestServeSQLite(t *testing.T) {
	dir := t.TempDir()
	c, err := parseFlags([]string{"--listen-addr=127.0.0.1:0", "--handler=sqlite", "--state-dir=" + dir, "--log-level=error"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	uris := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, func(uri string) { uris <- uri }) }()
	var uri string
	select {
	case uri = <-uris:
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	}
	if !strings.HasPrefix(uri, "mongodb://127.0.0.1:") {
		t.Fatalf("URI %q, want one on 127.0.0.1", uri)
	}

	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	coll := client.Database("probe").Collection("docs")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("InsertOne: %v", err)
	}
	var got struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.N != 1 {
		t.Fatalf("FindOne: %+v, %v", got, err)
	}
	_ = client.Disconnect(ctx)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sqlite", "*")); len(m) == 0 {
		t.Errorf("no file under %s/sqlite: the SQLite handler did not use --state-dir", dir)
	}
}
