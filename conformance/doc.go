// Package conformance is the test suite every [storage.Storage] backend
// must pass. It is exported so that third-party backends are held to the
// same contract as the ones in this module: [Run] it from a test.
//
// # What the suite checks
//
// [Run] checks every rule of the [storage.Storage] doc comments, in
// subtests named by area and case:
//
//   - Client: every field round-trips (grant and response types, redirect
//     URIs in order, scope, user ID, non-ASCII text); the secret is never
//     returned, SecretHash is set and salted, public clients stay public
//     and cannot authenticate; wrong, empty, truncated or over-long
//     secrets are [storage.ErrInvalidSecret]; duplicates are
//     [storage.ErrAlreadyExists] and malformed clients [storage.ErrInvalid],
//     with nothing written; client IDs match exactly (case, spaces);
//     DeleteClient deletes the client's codes and tokens, even when the
//     client itself is not stored.
//   - Code: round trip of every field with AuthTime and ExpiresIn
//     truncated to the millisecond in UTC; duplicates and each malformed
//     field; consume exactly once, then [storage.ErrAlreadyUsed] from
//     Consume and Get, even after expiry; expired codes are
//     [storage.ErrExpired], not consumed, and [storage.ErrNotFound] once
//     purged; valid at the exact instant of expiry and expired a
//     millisecond later; delete; codes of clients stored elsewhere; and
//     32 goroutines consuming one code at once, of which exactly one wins,
//     repeated over several codes.
//   - Token: round trip by access token (RefreshToken empty) and by
//     refresh token (AccessToken empty); TokenType defaults to "Bearer";
//     tokens without refresh token, which the empty string never finds;
//     duplicate access or refresh token with nothing of the rejected token
//     written; each malformed field; access and refresh lifetimes judged
//     separately at and after their boundaries; an access token is not a
//     refresh token; revocation by either credential revokes the pair and
//     nothing else, is idempotent, works on expired tokens and is reported
//     before expiry.
//   - Grant: a code or token created without a GrantID gets a new random
//     one (at least 128 bits, URL-safe), the same on every read, and the
//     caller's value is not modified; a given GrantID round-trips and
//     codes and tokens share it. [storage.TokenStore.RotateToken] revokes
//     the old pair and stores the next one in the old one's grant; a chain
//     of rotations stays in one grant; 64 goroutines rotating one refresh
//     token, over several rounds, have exactly one winner, nothing of the
//     losers' pairs is written and the winner's pair ends up revoked (each
//     loser is a reuse); reuse after a rotation, or after RevokeToken,
//     revokes every token of the grant and no other grant's; an expired
//     refresh token is [storage.ErrExpired] and changes nothing; a next
//     pair of another client or grant is [storage.ErrInvalid], a malformed
//     one [storage.ErrInvalid], a taken credential
//     [storage.ErrAlreadyExists], with nothing changed; unknown, empty and
//     purged refresh tokens are [storage.ErrNotFound]; a replayed code
//     revokes its grant's tokens (those refreshed since included) and no
//     other grant's, while GetAuthorizationCode of a used code revokes
//     nothing; [storage.Storage.RevokeGrant] revokes tokens and makes
//     unused codes unusable, is idempotent, and is [storage.ErrNotFound]
//     for an unknown or purged grant; a rotated pair stays recognisable as
//     reused until its refresh lifetime ends.
//   - Manage: UpdateClient replaces a registration and keeps the secrets;
//     RotateClientSecret keeps the previous secret valid until the overlap
//     ends (its end included), drops the oldest on a second rotation and
//     makes a public client confidential; RemoveClientSecrets makes it
//     public; ListClients pages in bytewise client ID order, filters by
//     owner, refuses bad limits and is stable under inserts between pages
//     and from another goroutine; RevokeClientTokens revokes a client's
//     tokens and codes, whether or not the client is stored; Stats (when
//     the store is a [storage.StatsReporter]) counts every state exactly.
//   - Limits: every field accepted at its limit of storage/limits.go and
//     read back byte for byte, refused one byte over it and with invalid
//     UTF-8 or a NUL, with nothing written; list entries unique; lookups
//     by values that could never be stored are [storage.ErrNotFound] by
//     every method.
//   - Isolation: records of several clients written interleaved each read
//     back as their own; consuming or revoking one touches no other.
//   - Purge: exact counts of codes past expiry (used or not) and of tokens
//     whose access and refresh lifetimes both ended; live refresh tokens
//     and revoked unexpired tokens are kept; clients are never purged; a
//     second purge deletes nothing; purged records are
//     [storage.ErrNotFound].
//   - Context: each of the fifteen methods of the data contract, given a cancelled context or
//     one past its deadline, returns an error matching [context.Canceled]
//     or [context.DeadlineExceeded] with [errors.Is] and writes nothing.
//   - Secrets: no error contains a client secret, code or token (every
//     error the suite receives is checked, and this group walks the error
//     paths); and, if the store implements [RawDumper], no credential the
//     suite generated appears in the persisted bytes, in plaintext, hex or
//     base64.
//
// The suite owns the clock: it starts every subtest at a fixed,
// millisecond-aligned instant in 2031 and moves it forward to test expiry.
// It never sleeps. Values are random from a seed
// that [Run] logs; set OAUTHSTORE_CONFORMANCE_SEED ([SeedEnv]) to repeat a
// run.
//
// # Testing a new backend
//
// 1. Write a test named TestConformance (or TestConformanceXxx, one per
// configuration) that calls [Run] with a [NewStore]:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
//			s, err := mystore.Open(ctx, dsn, mystore.WithClock(clock),
//				mystore.WithHasher(secret.ForTests()), mystore.WithPrefix(uniqueName(t)))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The store must use clock for every expiry decision, never time.Now or the
// database's NOW(). Use a cheap hasher such as secret.ForTests() so that the
// bcrypt-heavy client cases stay fast.
//
// 2. Optionally, let the suite read what the store persisted: return a
// value that implements [RawDumper], usually a test-only wrapper that embeds
// the store and dumps its tables, collections or files. DumpRaw must
// return every persisted byte with strings readable: the suite checks that
// the stored client IDs appear in the dump before it looks for leaked
// credentials. Without it, the subtest Secrets/RawDump is skipped, saying
// why.
//
// 3. Run it with the race detector:
//
//	go test -race -run 'TestConformance' ./mystore/
//
// Select a group or a single case with -run, for example
// -run 'TestConformance/Token/' or -run 'TestConformance/Code/ConsumeConcurrent'.
//
// # Reuse interval
//
// A store may offer a reuse interval for [storage.TokenStore.RotateToken]
// (memstore.WithReuseInterval, for one): a short grace after a rotation in
// which a replay of the rotated refresh token fails without revoking the
// grant. [RunReuseInterval] tests it with a [NewStoreWithReuseInterval]:
// a replay within the interval, its end included, fails with
// [storage.ErrRevoked] and leaves the legitimate pair live; one a
// millisecond later revokes the grant; concurrent rotations within the
// interval leave the winner's pair live; a pair revoked by RevokeToken has
// no interval.
//
// # Keyed digests and key rotation
//
// A store may key codes and tokens by a keyed digest (HMAC-SHA-256 under a
// server key, see [secret.Keyed]) so that a leaked database alone cannot
// be checked against guessed credentials; every backend of this module
// offers it (WithDigestKeys). [RunKeyed] tests it with a [NewKeyedStore]:
// the groups Code, Token, Grant, Purge and Secrets again on a keyed store
// (a [RawDumper] must persist the keyed digest of each credential and
// never its plain [secret.Digest]), then KeyRotation: after
// [secret.Keyed.SetKeys] adds a new current key, every operation still
// finds the records written under the older key, exactly one of
// concurrent consumers or rotators wins, new records are written under
// the new key, and once the older key is removed its records are no
// longer found. The store must read the keys on every call.
//
// # Minimum credential length
//
// A store may reject short codes and tokens (WithMinCredentialLength in
// this module's backends). [RunMinCredentialLength] tests it with a
// [NewStoreWithMinLength]: at the minimum, codes, access tokens and
// refresh tokens are accepted; a byte shorter, CreateAuthorizationCode,
// CreateToken and RotateToken fail with [storage.ErrInvalid] and write
// nothing, and a pair whose rotation was refused stays live.
//
// # Isolation
//
// [Run] calls newStore once per subtest and expects an empty store that
// shares nothing with any other store newStore returned: no rows,
// documents, caches or counters. Purge counts are exact, so a store that
// sees another subtest's records fails. For a database, give each call its
// own database, schema, table prefix or collection (derived from t.Name()
// or a counter), and drop it in t.Cleanup. The subtests run one after
// another, never in parallel; the only concurrency is the goroutines of
// Code/ConsumeConcurrent, Grant/RotateConcurrent and (RunKeyed)
// KeyRotation/ConcurrentAcrossRotation, which call one store
// at once.
package conformance
