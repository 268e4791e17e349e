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
// dump its tables, collections, keys or files.
type RawDumper interface {
	// DumpRaw returns everything the store has persisted, as text: rows,
	// documents or key-value pairs, with key names, index entries and any
	// other persisted bytes included (a credential in a key name is
	// persisted too). Do not return a compressed or binary serialisation
	// (a Redis DUMP payload, a raw page of a B-tree, gzip): a credential
	// inside it would not be found and the check would pass while the
	// store leaks. Strings must be readable as they are stored.
	//
	// Before it looks for leaked credentials the suite checks that the
	// dump is complete enough to be trusted: every stored client ID must
	// appear, and the digest of every stored code, access token and
	// refresh token (the lowercase hex [secret.Digest] of it, or what the
	// store's [CredentialDigester] says).
	DumpRaw(ctx context.Context) ([]byte, error)
}

// CredentialDigester is an optional interface for a [RawDumper] whose store
// does not key credentials by the plain [secret.Digest] (for example a
// store with keyed digests): CredentialDigest returns the text under which
// the store persists credential's digest, so that the suite can check the
// dump for it.
type CredentialDigester interface {
	CredentialDigest(credential string) string
}
