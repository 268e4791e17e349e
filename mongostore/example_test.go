package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/storage"
)

// serverURI stands for your server's URI, such as
// "mongodb://db.internal:27017/?replicaSet=rs0". So that the example runs
// anywhere, it is the tests' FerretDB server, which has no TTL indexes.
func serverURI() string {
	uri, err := mongoenv.FerretDBURI()
	if err != nil {
		log.Fatal(err)
	}
	return uri
}

func Example() {
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(serverURI()))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(ctx)
	db := client.Database("example_auth")
	defer db.Drop(ctx)

	store, err := mongostore.New(ctx, db,
		mongostore.WithTTLGrace(24*time.Hour),
		mongostore.WithTTLUnsupported(func(err error) {
			fmt.Println("no TTL indexes: PurgeExpired must run periodically")
		}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server deletes expired documents:", store.TTLEnabled())

	err = store.CreateClient(ctx, &models.Client{
		ClientID:     "web-app",
		ClientSecret: "a long random secret",
		GrantTypes:   []models.GrantType{models.GrantAuthorizationCode},
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

	// Output:
	// no TTL indexes: PurgeExpired must run periodically
	// server deletes expired documents: false
	// code issued to web-app
	// replayed code refused: true
}
