// Package redisstore is a [storage.Storage] on Redis or Valkey, through
// go-redis (github.com/redis/go-redis/v9). Every decision that must be
// atomic is one server-side Lua script, so the store needs no transaction
// and no lock, and holds on any number of processes sharing the server.
//
// Create a store with [New] on a go-redis client:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379"})
//	store, err := redisstore.New(ctx, rdb,
//		redisstore.WithKeyPrefix("auth"),     // keys are named {auth}:...
//		redisstore.WithTTLGrace(24*time.Hour)) // keys outlive expiry by a day
//
// New pings the server and loads the scripts; it writes nothing. The
// package also implements [storage.ClientManager] and
// [storage.StatsReporter].
//
// # Keys
//
// Every key starts with the store's prefix as a hash tag, "{prefix}:"
// ([DefaultKeyPrefix] is "oauthstore", [WithKeyPrefix] sets another), so
// that several stores share a server and every key of one store lies in
// one Redis Cluster hash slot. Codes and tokens are keyed by
// [secret.Digest] of the credential, or its keyed digest with
// [WithDigestKeys] (64 lowercase hex digits either way); no
// credential appears in a key name or a value, and client secrets are kept
// only as the hasher's salted hash ([WithHasher]).
//
//   - client:<client ID>: hash of a client: its registration (lists as JSON
//     arrays), secret_hash, and previous_secret_hash and
//     previous_secret_until after a secret rotation.
//   - clients: sorted set of every client ID, all scored 0, so ordered
//     bytewise (ZRANGEBYLEX pages [Store.ListClients]).
//   - owner:<user ID>: the same for the clients of one owner.
//   - code:<digest>: hash of an authorization code, with its grant_id, exp
//     (expiry in unix milliseconds) and used flag.
//   - access:<digest of the access token>: hash of a token pair, with the
//     digest of its refresh token (refresh), grant_id, exp, refresh_exp,
//     purge_at, the revoked flag and, once rotated, rotated_at.
//   - refresh:<digest of the refresh token>: string, the digest of the
//     pair's access token.
//   - grant:<grant ID>: set of the grant's codes ("c:<digest>") and pairs
//     ("t:<access digest>"), for [Store.RevokeGrant], reuse detection and
//     code replays.
//   - issued:<client ID>: the same for the codes and pairs issued to a
//     client ID, for [Store.DeleteClient] and [Store.RevokeClientTokens].
//   - expiry:codes, expiry:tokens: sorted sets of codes and pairs scored by
//     expiry (purge_at for pairs), for [Store.PurgeExpired]. A member is
//     the digest, then the length of the client ID, the client ID and the
//     grant ID, so that a purge can remove a record's index entries even
//     after Redis deleted the record by its TTL.
//
// Instants are unix milliseconds and lifetimes milliseconds, as decimal
// text; they round-trip at [backendkit.Precision].
//
// # Scripts
//
// Redis runs a script to its end before it serves another command, so
// each of these is atomic; go-redis sends EVALSHA and falls back to EVAL
// when the server has forgotten the script (after a restart or SCRIPT
// FLUSH).
//
//   - Creating a client, code or token pair checks that its key (and, for
//     a pair, its refresh key) is free and writes the record, its TTL and
//     its index entries: a taken credential is [storage.ErrAlreadyExists]
//     with nothing written.
//   - [Store.ConsumeAuthorizationCode] checks the used flag and the expiry
//     and sets the flag: of concurrent callers exactly one finds it unset.
//     A caller that finds it set revokes every token of the code's grant
//     in the same script.
//   - [Store.RotateToken] first reads the old pair and checks the next one
//     against it ([backendkit.Successor]); then one script finds the old
//     pair again (starting over if it is no longer the pair read), and
//     either revokes it and stores the next pair, or, finding it revoked,
//     revokes every token of its grant (a reuse, unless the replay is
//     within the reuse interval, [WithReuseInterval]), or changes nothing
//     (expired; a credential of the next pair taken). Concurrent rotations
//     of one refresh token run one after the other: the first wins, the
//     others find the pair revoked and are reuses.
//   - [Store.RevokeToken], [Store.RevokeGrant],
//     [Store.RevokeClientTokens], [Store.DeleteClient] and
//     [Store.DeleteAuthorizationCode] are one script each.
//
// Reads ([Store.GetTokenByAccess], [Store.GetAuthorizationCode],
// [Store.GetClient]) are one HGETALL; [Store.GetTokenByRefresh] is one
// script that follows the refresh key. Writes run on a context detached
// from the caller's cancellation (for at most 10 s): once a script is
// sent, the caller learns its outcome, so that a rotation is not reported
// as failed when it happened.
//
// # Time, TTLs and PurgeExpired
//
// Every expiry decision uses the store's clock ([WithClock]): scripts are
// given its instant, rounded up to the millisecond, and apply the integer
// rule of package backendkit (a record that expires at e is expired when
// e < now). No script reads the server's clock.
//
// Redis key TTLs serve only as clean-up: a code or pair gets, when it is
// written, a TTL of its time left until expiry plus a grace period
// ([WithTTLGrace], [DefaultTTLGrace] by default), and no later write
// changes it. The TTL is relative, so the server deletes the keys no
// earlier than the grace period after the record expired, whatever the
// offset between its clock and the store's. Until then a used code reads
// as used and a revoked pair as revoked, so replays and reuse are told
// apart. The grant and issued indexes live as long as the longest-lived
// record they list; clients and the other indexes have no TTL.
//
// [Store.PurgeExpired] deletes, by the store's clock, exactly the codes
// past their expiry and the pairs whose access and refresh lifetimes have
// both ended, and counts them (a pair is one record). It works in batches
// ([WithPurgeBatchSize]): each script takes at most a batch of expired
// entries from an expiry index and deletes their records and index
// entries, so Redis is never blocked for long; ctx is checked between
// batches. Records that Redis already deleted by their TTL are not
// counted, but their index entries go too: run PurgeExpired periodically
// (package purger does),
// or the expiry indexes (and the issued index of a long-lived client)
// keep an entry of about a hundred bytes per record deleted by TTL.
//
// # Redis Cluster
//
// All keys of a store share its hash tag, so they are in one hash slot,
// and every script touches only keys of that slot: the keys it is given,
// and keys it finds through an index, which it names with the same tag.
// No operation needs anything else of a cluster, but the whole store lives
// on the one primary that serves the slot (and its replicas): a cluster
// adds fail-over, not capacity, to one store. To spread load, run several
// stores with different prefixes (one per tenant, say); each prefix is a
// slot of its own. Do not migrate the store's slot while it serves
// traffic: a script that meets a key being moved fails. Only standalone
// servers were tested.
//
// # Durability
//
// The store is as durable as the server's persistence:
//
//   - No persistence (save "" and appendonly no): a restart forgets every
//     client, code, token and grant; every user signs in again and every
//     client must be registered again.
//   - RDB snapshots alone: a restart rolls back to the last snapshot. Besides
//     losing what was issued since, it undoes what was spent since: a
//     consumed code is unused again (and may be exchanged a second time
//     within its lifetime), a rotated refresh token is live again while its
//     successor is forgotten, a revoked token works again until it expires.
//   - AOF (appendonly yes): with appendfsync everysec (the default) a crash
//     of the machine loses up to a second of writes, with the same effects;
//     appendfsync always loses none that were acknowledged.
//   - Replication is asynchronous: a fail-over may lose the last
//     acknowledged writes, with the same effects. Scripts replicate as
//     their effects, wrapped in MULTI/EXEC, so a replica or the AOF never
//     holds half a script.
//
// Set maxmemory-policy to noeviction: every record has a TTL, so a
// volatile-* policy would evict live codes, tokens and grant indexes (and
// an evicted grant index would let a reused refresh token's successors
// live on). Under noeviction Redis refuses a script's first write when
// memory is full, so nothing is half-written.
//
// # Servers
//
// The scripts use Lua 5.1 as Redis embeds it and commands of Redis 6.2
// and later. Tested: Redis 7.0.15, Valkey 8.0.1, and miniredis v2 (the
// embedded server the package's tests fall back to, which runs the
// scripts on gopher-lua under one lock and passes the whole conformance
// suite).
package redisstore
