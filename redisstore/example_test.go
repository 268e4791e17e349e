package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/storage"
)

// serverAddr stands for your server's address, such as
// "redis.internal:6379". So that the example runs anywhere, it is an
// embedded miniredis server, which runs the store's scripts as Redis does.
func serverAddr() (addr string, stop func()) {
	srv, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	return srv.Addr(), srv.Close
}

func Example() {
	ctx := context.Background()
	addr, stop := serverAddr()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()

	store, err := redisstore.New(ctx, rdb,
		redisstore.WithKeyPrefix("auth"),            // keys are named {auth}:...
		redisstore.WithTTLGrace(24*time.Hour),       // keys outlive expiry by a day
		redisstore.WithReuseInterval(2*time.Second)) // a lost refresh answer may be retried
	if err != nil {
		log.Fatal(err)
	}

	err = store.CreateClient(ctx, &models.Client{
		ClientID:     "web-app",
		ClientSecret: "a long random secret",
		GrantTypes:   []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken},
		RedirectURIs: []string{"https://app.example/callback"},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = store.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code:      "a long random code",
		ClientID:  "web-app",
		AuthTime:  time.Now(),
		ExpiresIn: time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	code, err := store.ConsumeAuthorizationCode(ctx, "a long random code")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("code issued to", code.ClientID)
	_, err = store.ConsumeAuthorizationCode(ctx, "a long random code")
	fmt.Println("replayed code refused:", errors.Is(err, storage.ErrAlreadyUsed))

	// The tokens issued from the code belong to its grant.
	err = store.CreateToken(ctx, &models.Token{
		AccessToken: "access 1", RefreshToken: "refresh 1",
		ClientID: "web-app", GrantID: code.GrantID,
		IssuedAt: time.Now(), ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	err = store.RotateToken(ctx, "refresh 1", &models.Token{
		AccessToken: "access 2", RefreshToken: "refresh 2",
		ClientID: "web-app", IssuedAt: time.Now(), ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour,
	})
	fmt.Println("rotated:", err == nil)
	_, err = store.GetTokenByRefresh(ctx, "refresh 1")
	fmt.Println("old refresh token revoked:", errors.Is(err, storage.ErrRevoked))
	tok, err := store.GetTokenByAccess(ctx, "access 2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new pair in the code's grant:", tok.GrantID == code.GrantID)

	// Output:
	// code issued to web-app
	// replayed code refused: true
	// rotated: true
	// old refresh token revoked: true
	// new pair in the code's grant: true
}
