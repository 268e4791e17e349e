package mongostore_test

import (
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestConformanceFerretDB(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		db := mongoenv.FerretDB(t)
		return dumpStore{newStore(t, db, clock), db}
	})
}

func TestConformanceMongoDB(t *testing.T) {
	mongoenv.MongoDB(t) // skips here if no server is configured
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		db := mongoenv.MongoDB(t)
		return dumpStore{newStore(t, db, clock), db}
	})
}

func TestConformanceReuseIntervalFerretDB(t *testing.T) {
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		db := mongoenv.FerretDB(t)
		return dumpStore{newStore(t, db, clock, mongostore.WithReuseInterval(interval)), db}
	})
}

func TestConformanceReuseIntervalMongoDB(t *testing.T) {
	mongoenv.MongoDB(t) // skips here if no server is configured
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		db := mongoenv.MongoDB(t)
		return dumpStore{newStore(t, db, clock, mongostore.WithReuseInterval(interval)), db}
	})
}

func TestConformanceKeyedFerretDB(t *testing.T) {
	conformance.RunKeyed(t, func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage {
		db := mongoenv.FerretDB(t)
		return dumpStore{newStore(t, db, clock, mongostore.WithDigestKeys(keys)), db}
	})
}

func TestConformanceMinCredentialLengthFerretDB(t *testing.T) {
	conformance.RunMinCredentialLength(t, func(t *testing.T, clock func() time.Time, n int) storage.Storage {
		db := mongoenv.FerretDB(t)
		return newStore(t, db, clock, mongostore.WithMinCredentialLength(n))
	})
}
