// Package memstore is the in-process reference implementation of
// [storage.Storage].
//
// It keeps everything in memory, so it suits tests, single-process servers
// and development; nothing survives a restart. Create one with [New]:
//
//	store := memstore.New(memstore.WithClock(clock))
//
// # Guarantees
//
// The store obeys the whole contract of the storage package and passes the
// conformance suite. It is safe for concurrent use:
// [Store.ConsumeAuthorizationCode] checks and marks a code under one lock,
// so of any number of concurrent callers exactly one wins.
//
// # Secrets
//
// Codes and tokens are kept under their SHA-256 digest (or, with
// [WithDigestKeys], their HMAC-SHA-256 under a server key), never in
// plaintext, and client secrets as a salted slow hash ([WithHasher],
// bcrypt by default). A token read by its access token therefore has an
// empty RefreshToken, and the reverse.
//
// # Performance
//
// Codes and tokens live in 32 partitions, each a hash map under its own
// read-write lock, picked by the digest's first byte: a lookup is one
// SHA-256 and one map access, whatever the number of records, and
// concurrent lookups rarely contend. The records of one grant (for
// [Store.RevokeGrant] and refresh-token reuse detection) are linked through
// the records themselves, so a create allocates only its record and, for a
// new grant, its grant ID; a lookup allocates only the copy it returns.
// [Store.DeleteClient] and
// [Store.PurgeExpired] visit every record; call PurgeExpired periodically
// (package purger does) to bound memory.
package memstore
