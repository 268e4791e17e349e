package mongostore_test

import (
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/storage"
)

func TestConformanceFerretDB(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		db := testenv.FerretDB(t)
		return dumpStore{newStore(t, db, clock), db}
	})
}

func TestConformanceMongoDB(t *testing.T) {
	testenv.MongoDB(t) // skips here if no server is configured
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		db := testenv.MongoDB(t)
		return dumpStore{newStore(t, db, clock), db}
	})
}

func TestConformanceReuseIntervalFerretDB(t *testing.T) {
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		db := testenv.FerretDB(t)
		return dumpStore{newStore(t, db, clock, mongostore.WithReuseInterval(interval)), db}
	})
}

func TestConformanceReuseIntervalMongoDB(t *testing.T) {
	testenv.MongoDB(t) // skips here if no server is configured
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		db := testenv.MongoDB(t)
		return dumpStore{newStore(t, db, clock, mongostore.WithReuseInterval(interval)), db}
	})
}
