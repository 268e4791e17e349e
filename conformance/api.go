package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/storage"
)

// NewStore returns an empty store, isolated from every other store it has
// returned, whose clock is the given function. [Run] calls it once per
// subtest and moves the clock to test expiry. Register clean-up with
// t.Cleanup.
type NewStore func(t *testing.T, clock func() time.Time) storage.Storage

// RawDumper is an optional interface for the store NewStore returns. A store
// that implements it lets the suite read every byte it persisted, so that
// the suite can assert no plaintext client secret, code or token is among
// them. It is usually a test-only wrapper: embed the backend's store and
// dump its tables, collections or files.
type RawDumper interface {
	// DumpRaw returns everything the store has persisted, in any encoding
	// that keeps strings readable (raw file bytes, rows as text, BSON).
	// The suite first checks that the client IDs it stored appear in the
	// dump, so a dump that leaves records out fails rather than passes.
	DumpRaw(ctx context.Context) ([]byte, error)
}
