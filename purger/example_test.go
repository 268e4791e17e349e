package purger_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/purger"
)

func ExampleStart() {
	ctx := context.Background()
	store := memstore.New() // or any storage.Storage: gormstore, mongostore, redisstore
	_ = store.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code: "expired-code-0123456789", ClientID: "app", AuthTime: time.Now().Add(-time.Hour), ExpiresIn: time.Minute,
	})

	firstRun := make(chan struct{})
	p, err := purger.Start(ctx, store, 10*time.Minute,
		func(err error) { log.Printf("purge failed: %v", err) }, // or a metric
		purger.RunAtStart(),
		purger.OnResult(func(r purger.Result) {
			fmt.Printf("run %d purged %d\n", r.Run, r.Purged)
			if r.Run == 1 {
				close(firstRun)
			}
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop() // at shutdown, before closing the store; waits for the goroutine

	<-firstRun
	// Output:
	// run 1 purged 1
}
