package conformance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// A backend runs the suite from one of its own tests, TestConformance in
// mystore/mystore_test.go. Here the backend is memstore, and the test runs
// in place. A database backend would open a fresh database, schema or table
// prefix in NewStore and drop it in t.Cleanup.
func ExampleRun() {
	TestConformance := func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
			// An empty store of its own for every subtest, reading the
			// suite's clock, with a cheap hasher to keep the suite fast.
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()))
		})
	}

	fmt.Println("memstore conforms:", runAsTest("ExampleRun", TestConformance))
	// Output: memstore conforms: true
}
