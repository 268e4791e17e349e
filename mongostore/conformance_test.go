package mongostore_test

import (
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/testenv"
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
