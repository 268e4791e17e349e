package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
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
