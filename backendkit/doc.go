// Package backendkit is the toolkit for writing a [storage.Storage]
// backend. It holds every rule of the contract that does not depend on how
// records are persisted, so that a backend only decides how to persist,
// and a fix to a rule reaches every backend at once. Users of a store never
// need it; backend authors do.
//
// # Options and the first steps of every method
//
// A store keeps the options every backend has (WithClock, WithHasher,
// WithDigestKeys, WithMinCredentialLength, WithReuseInterval) in an
// [Options], so that each With function is one call of a Set method and
// the options mean the same on every backend; its Store satisfies
// [Backend].
//
// The steps every backend takes before it touches its records are helpers
// too: [StartCreateClient], [StartUpdateClient], [StartByID], [StartList],
// [Credentials.StartCreateCode], [Credentials.StartCreateToken],
// [Credentials.StartRotate], [ClientAuth.SecretsOf] and
// [ClientAuth.HashNewSecret]. [ClientAuth.Authenticate] is all of
// AuthenticateClient but the read, [ClientWritten] the outcome of a write
// to a client, and [Tally] the per-client counts of Stats.
//
// # Validating input
//
// [NormalizeClient], [NormalizeAuthorizationCode] and [NormalizeToken]
// validate what the Create methods are given, return the record in the
// form to persist (instants in UTC at [Precision], TokenType set, a new
// GrantID where none was given) and never modify the caller's value.
// [NormalizeSuccessor] does the same for the next pair of
// [storage.TokenStore.RotateToken], and [Successor] checks it against the
// pair it replaces. Every error wraps [storage.ErrInvalid] and contains no
// credential.
//
// # Digests and credential length
//
// A store never digests a code or token itself: it holds a [Credentials]
// ([NewCredentials], from its WithDigestKeys and WithMinCredentialLength
// options), writes [Credentials.Digest], and runs every lookup, consumption,
// deletion and rotation through [Lookup], which tries the digest under
// each key, current first, and stops at the first record found. The
// Normalize methods of [Credentials] add the minimum length to the
// functions above.
//
// # Judging stored records
//
// [CheckCode], [CheckAccess] and [CheckRefresh] decide whether a stored
// record may be returned as live at an instant of the store's clock, and
// with which sentinel error if not. [ReuseWithinInterval] decides whether
// the replay of a rotated refresh token falls in a store's reuse interval.
//
// # Time
//
// Stores keep instants to the millisecond ([Precision], [Truncate]). A
// credential is valid at the exact instant it expires and expired after
// it. For decisions taken inside a database or a server-side script, on
// integers, the rule reads: with every stored instant in whole unix
// milliseconds, a record that expires at e is expired at now exactly when
//
//	e < CeilMillis(now)
//
// that is, when now, rounded up to the millisecond, is after e. Compare
// with the rounded-up clock, never a truncated one: truncating would keep a
// credential alive for up to a millisecond after it expired.
// [PurgeAt] is the instant after which a token pair may be purged.
//
// # Grants
//
// [NewGrantID] makes the random identifier a code or token created without
// a GrantID receives. See [storage.TokenStore.RotateToken] and
// [storage.Storage.RevokeGrant] for what a backend does with grants.
//
// # Contexts
//
// [CtxErr] is called before any work, so that a call with a done context
// writes nothing.
//
// Run the conformance suite (package conformance) against the backend: it
// checks every rule of the contract, including the ones above.
package backendkit
