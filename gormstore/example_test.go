package gormstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/purger"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gormstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A file-backed SQLite database in WAL mode; concurrent writers wait up
	// to 10 s for each other instead of failing with SQLITE_BUSY.
	dsn := "file:" + filepath.Join(dir, "oauth.db") + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		// One connection: SQLite writes one at a time anyway, and with one
		// connection every automatic checkpoint completes, so the WAL
		// stays bounded.
		sqlDB.SetMaxOpenConns(1)
		defer sqlDB.Close()
	}

	// New creates the schema (or upgrades it) before returning.
	store, err := gormstore.New(ctx, db, gormstore.WithHasher(secret.ForTests()))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // releases its prepared statements, not db

	err = store.CreateClient(ctx, &models.Client{
		ClientID:     "photo-app",
		ClientSecret: "correct horse battery staple",
		GrantTypes:   []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken},
		RedirectURIs: []string{"https://photos.example/callback"},
		Scope:        "photos:read",
	})
	if err != nil {
		log.Fatal(err)
	}
	client, err := store.AuthenticateClient(ctx, "photo-app", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", client.ClientID, "public:", client.IsPublic())

	err = store.CreateToken(ctx, &models.Token{
		AccessToken:           "access-token-value",
		RefreshToken:          "refresh-token-value",
		ClientID:              client.ClientID,
		Scope:                 "photos:read",
		IssuedAt:              time.Now(),
		ExpiresIn:             time.Hour,
		RefreshTokenExpiresIn: 30 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := store.GetTokenByAccess(ctx, "access-token-value")
	if err != nil {
		log.Fatal(err)
	}
	// Only digests are stored: a token read by its access token does not
	// carry the refresh token.
	fmt.Println("token:", tok.ClientID, tok.Scope, tok.TokenType, tok.ExpiresIn, tok.RefreshToken == "")

	// Refresh with rotation: the old pair is revoked and the new one
	// stored in its grant, in one transaction.
	next := &models.Token{
		AccessToken:           "access-token-value-2",
		RefreshToken:          "refresh-token-value-2",
		ClientID:              client.ClientID,
		Scope:                 "photos:read",
		IssuedAt:              time.Now(),
		ExpiresIn:             time.Hour,
		RefreshTokenExpiresIn: 30 * 24 * time.Hour,
	}
	if err := store.RotateToken(ctx, "refresh-token-value", next); err != nil {
		log.Fatal(err)
	}
	// Replaying the rotated refresh token is a reuse: the whole grant,
	// the new pair included, is revoked.
	err = store.RotateToken(ctx, "refresh-token-value", &models.Token{AccessToken: "stolen", ClientID: client.ClientID, IssuedAt: time.Now(), ExpiresIn: time.Hour})
	fmt.Println("reuse revoked:", errors.Is(err, storage.ErrRevoked))
	_, err = store.GetTokenByAccess(ctx, "access-token-value-2")
	fmt.Println("new pair revoked:", errors.Is(err, storage.ErrRevoked))
	// Output:
	// client: photo-app public: false
	// token: photo-app photos:read Bearer 1h0m0s true
	// reuse revoked: true
	// new pair revoked: true
}

func ExampleStore_PurgeExpired() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gormstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(dir, "oauth.db")+"?_journal_mode=WAL&_busy_timeout=10000"),
		&gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	store, err := gormstore.New(ctx, db, gormstore.WithPurgeBatchSize(500))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // after p.Stop: deferred calls run in reverse order

	// Purge expired codes and tokens every ten minutes until shutdown.
	p, err := purger.Start(ctx, store, 10*time.Minute, func(err error) {
		fmt.Println("purge failed:", err) // or a metric, or the app's logger
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop() // waits for the goroutine

	// An explicit purge, e.g. from a maintenance command.
	n, err := store.PurgeExpired(ctx)
	fmt.Println("purged:", n, err)
	// Output:
	// purged: 0 <nil>
}
