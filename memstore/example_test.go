package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func Example() {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	store := memstore.New(memstore.WithClock(func() time.Time { return now }))

	err := store.CreateToken(ctx, &models.Token{
		AccessToken:           "access-3f9a1c",
		RefreshToken:          "refresh-77b2e0",
		Scope:                 "read",
		IssuedAt:              now,
		ExpiresIn:             time.Hour,
		RefreshTokenExpiresIn: 24 * time.Hour,
		ClientID:              "web-app",
		UserID:                "alice",
	})
	if err != nil {
		panic(err)
	}

	tok, err := store.GetTokenByAccess(ctx, "access-3f9a1c")
	fmt.Println(tok.ClientID, tok.UserID, tok.Scope, tok.Type(), err)
	fmt.Printf("refresh token recoverable from the access token: %t\n", tok.RefreshToken != "")

	_ = store.RevokeToken(ctx, "refresh-77b2e0")
	_, err = store.GetTokenByAccess(ctx, "access-3f9a1c")
	fmt.Println(errors.Is(err, storage.ErrRevoked))
	// Output:
	// web-app alice read Bearer <nil>
	// refresh token recoverable from the access token: false
	// true
}

func ExampleStore_ConsumeAuthorizationCode() {
	ctx := context.Background()
	store := memstore.New()
	err := store.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code:        "code-5d1e",
		ClientID:    "web-app",
		RedirectURI: "https://app.example/callback",
		AuthTime:    time.Now(),
		ExpiresIn:   time.Minute,
		UserID:      "alice",
	})
	if err != nil {
		panic(err)
	}

	code, err := store.ConsumeAuthorizationCode(ctx, "code-5d1e")
	fmt.Println(code.ClientID, code.UserID, err)

	_, err = store.ConsumeAuthorizationCode(ctx, "code-5d1e")
	fmt.Println(errors.Is(err, storage.ErrAlreadyUsed))
	// Output:
	// web-app alice <nil>
	// true
}

// Keyed digests: codes and tokens are kept under their HMAC-SHA-256 under
// a server key, and a key rotation keeps what was written under the old
// key findable until the old key is dropped.
func ExampleWithDigestKeys() {
	ctx := context.Background()
	oldKey := bytes.Repeat([]byte{1}, secret.MinKeyLen) // in production: random, from a secrets store
	newKey := bytes.Repeat([]byte{2}, secret.MinKeyLen)
	keys, err := secret.NewKeyed(oldKey)
	if err != nil {
		log.Fatal(err)
	}
	store := memstore.New(memstore.WithDigestKeys(keys), memstore.WithMinCredentialLength(32))
	tok := &models.Token{AccessToken: "an-access-token-of-at-least-32-bytes", ClientID: "app", IssuedAt: time.Now(), ExpiresIn: time.Hour}
	if err := store.CreateToken(ctx, tok); err != nil {
		log.Fatal(err)
	}
	short := &models.Token{AccessToken: "too-short", ClientID: "app", IssuedAt: time.Now(), ExpiresIn: time.Hour}
	fmt.Println("short token:", errors.Is(store.CreateToken(ctx, short), storage.ErrInvalid))

	_ = keys.SetKeys(newKey, oldKey) // rotate: write under newKey, still read oldKey
	_, err = store.GetTokenByAccess(ctx, tok.AccessToken)
	fmt.Println("after rotation:", err)

	_ = keys.SetKeys(newKey) // drop oldKey once its tokens have expired
	_, err = store.GetTokenByAccess(ctx, tok.AccessToken)
	fmt.Println("old key dropped:", errors.Is(err, storage.ErrNotFound))
	// Output:
	// short token: true
	// after rotation: <nil>
	// old key dropped: true
}
