// Package mongostore is a [storage.Storage] on MongoDB, through the official
// Go driver (go.mongodb.org/mongo-driver/v2), that needs no multi-document
// transaction: it holds on a standalone server, a replica set, a sharded
// cluster and MongoDB-compatible servers such as FerretDB alike.
//
// Create a store with [New] on a [mongo.Database]; it creates its indexes,
// and may be called by every process at start-up:
//
//	store, err := mongostore.New(ctx, client.Database("auth"),
//		mongostore.WithTTLUnsupported(func(err error) { log.Print("no TTL indexes: call PurgeExpired") }))
//
// # Documents
//
// The store keeps five collections, named with a prefix
// ([DefaultCollectionPrefix], or [WithCollectionPrefix]):
//
//   - clients: one document per client, _id = client ID, the secret as a
//     salted slow hash ([WithHasher]) and, after a secret rotation, the
//     hash of the previous secret and the instant (a BSON date) until which
//     it still authenticates; indexed on {user_id, _id} for listings by
//     owner.
//   - codes: one document per authorization code, _id = [secret.Digest] of
//     the code (or its keyed digest, [WithDigestKeys]), with its grant_id
//     and a used flag.
//   - code_uses: the used-markers of consumed codes (see below).
//   - tokens: one document per access token and its optional refresh token,
//     _id = digest of the access token, refresh = digest of the refresh
//     token (absent when there is none) under a unique sparse index, with
//     its grant_id and a revoked flag.
//   - rotations: the rotation markers of rotated refresh tokens (see
//     below).
//
// Codes and tokens carry the ID of their grant ([models.Token.GrantID]),
// indexed, so that a grant is revoked with one UpdateMany per collection.
// No client secret, code or token is stored in plaintext. Instants are BSON
// dates (milliseconds, UTC); every expiry is decided on read with the
// store's clock ([WithClock]), never the server's.
//
// # Why winners are decided by a unique-key insert
//
// [Store.ConsumeAuthorizationCode] must let exactly one of any number of
// concurrent callers win. The usual MongoDB idiom, a conditional update
// (FindOneAndUpdate or UpdateOne with the filter used: false), is atomic on
// MongoDB but not on every server that speaks its protocol: measured on
// FerretDB v1.24.2 with 32 racers, it let 3 win on the SQLite handler and
// all 32 on the PostgreSQL handler, because FerretDB reads, filters and
// writes back in separate steps. An insert on a unique key (_id or a unique
// index), however, is enforced by the underlying database's own unique
// constraint, and let exactly one win every time on both.
//
// So the winner is the caller whose insert of a used-marker succeeds: a
// code_uses document whose _id is the code's digest and the code document's
// incarnation (a fresh ObjectID stored in it at creation). Every other
// insert fails with a duplicate key error, and its caller gets
// [storage.ErrAlreadyUsed]. The winner then sets the code document's used
// flag, so that most later reads need one query; that write is best effort.
// A code is used if its flag is set or its marker exists, and
// [Store.GetAuthorizationCode] checks both. The flag is also how
// [Store.RevokeGrant] makes a code unusable, and it decides on its own: the
// winner's flag write returns the document as it was, so a winner that
// finds the flag already set (RevokeGrant came between its read and its
// insert) gets [storage.ErrAlreadyUsed] too. Every call that gets
// [storage.ErrAlreadyUsed] revokes the tokens of the code's grant;
// [Store.GetAuthorizationCode] stays a pure read.
//
// Crash windows, and why each is safe:
//
//   - Marker inserted, flag not set (the process stopped, or the flag write
//     failed): the marker alone makes the code used; every read looks for
//     it whenever the flag is not set.
//   - Marker purged before its code (by [Store.PurgeExpired] or a TTL index):
//     both have the code's expiry, and are only purged after it, so a code
//     that lost its marker is expired and can no longer be consumed.
//   - A consume racing [Store.DeleteAuthorizationCode] may insert its marker
//     after the delete removed the code's markers. The marker names the
//     deleted incarnation, so it never marks a code created later with the
//     same value; it is purged with its expiry.
//
// Creating a client, code or token is a single insert, so a taken client
// ID, code, access token or refresh token is a duplicate key error, mapped to
// [storage.ErrAlreadyExists], with nothing written: a token pair is one
// document, rejected whole if either digest is taken. Revocation sets a flag
// on that one document; it is idempotent, so it needs no single winner.
//
// # Rotating a refresh token without a transaction
//
// [Store.RotateToken] must revoke the old pair and store the new one, and
// let one of any number of concurrent callers win. Without a transaction it
// takes three writes, and the first one decides, as for codes:
//
//  1. Read the old pair by its refresh token's digest: unknown is
//     [storage.ErrNotFound]; flagged revoked is a reuse (below); expired is
//     [storage.ErrExpired] (unless its rotation marker exists: revoked
//     takes precedence); a new pair of another client or grant is
//     [storage.ErrInvalid]. Nothing is written for any of them.
//  2. Insert the rotation marker: a rotations document whose _id is the
//     old refresh token's digest and the token document's incarnation (a
//     fresh ObjectID stored in it at creation), holding the grant, the
//     client, the rotation instant (the store's clock, rounded up to the
//     millisecond), the digest of the new access token and the old pair's
//     purge instant. The caller whose insert succeeds is the winner. A
//     caller whose insert fails on the duplicate _id lost the race, which
//     is a reuse.
//  3. Insert the new pair. If a credential of it is taken (duplicate key),
//     delete the marker again and fail with [storage.ErrAlreadyExists]: the
//     old pair is untouched. (A loser that then finds the marker gone
//     starts over, a few times at most.)
//  4. Flag the old pair revoked (best effort: the marker already makes its
//     refresh token revoked).
//  5. Read the marker again: if a loser flagged it reused meanwhile, revoke
//     the grant again. A loser may revoke the grant before the winner's
//     insert of step 3 lands, which would leave the new pair live; it
//     flags the marker before it revokes, so either its revocation sees the
//     new pair, or the winner's read sees the flag.
//
// Steps 3 to 5 run on a context detached from the caller's (bounded by a
// timeout): once the marker is in, a cancelled request does not leave the
// rotation half-done.
//
// A reuse (the old pair flagged revoked, or a lost race) is handled like
// this: unless the reuse interval ([WithReuseInterval]) after the rotation
// instant read from the marker holds, the marker (if any) is flagged reused
// and every token of the grant is revoked (UpdateMany by grant_id); the
// error matches [storage.ErrRevoked] either way. A pair revoked by
// [Store.RevokeToken] or [Store.RevokeGrant] has no marker, so no interval.
// These writes too are not cancelled with the caller's context, so that a
// replay is acted upon even if its sender hangs up. The rotation instant
// is read from the marker, never from the token document: FerretDB writes
// whole documents back, so a concurrent UpdateMany on the token could lose
// a field set by another write (the revoked flag cannot be lost: every
// write that touches it sets it).
//
// Crash windows (the process stops, or a write fails, between steps), and
// why each fails safe, never leaving two live successors of one refresh
// token:
//
//   - Marker inserted, no new pair (stopped after step 2, or step 3 failed
//     other than on a duplicate key, in which case the new pair may or may
//     not have been written, so the marker is kept): the refresh token is
//     spent. [Store.GetTokenByRefresh] consults the marker whenever the
//     document is not flagged, and reports the pair revoked; the next
//     RotateToken with that refresh token fails to insert its marker and is
//     a reuse. The client re-authenticates.
//   - New pair inserted, old pair not flagged (stopped after step 3): the
//     same for the old refresh token, and the new pair is live. The old
//     access token, however, is read from its document alone (a second
//     query on every access token check would double the cost of the most
//     frequent read), so it stays valid until it expires, as it would have
//     without the rotation, unless a reuse, [Store.RevokeToken] or
//     [Store.RevokeGrant] flags it.
//   - Stopped before step 5: a loser's reuse that raced the winner may
//     have left the new pair live. That pair is the one the winner never
//     returned.
//   - A rotation racing the deletion of its pair ([Store.DeleteClient]) may
//     insert its marker after the delete. The marker names the deleted
//     incarnation, so it never marks a pair stored later with the same
//     refresh token; it is purged with its expiry.
//
// Pairs stored by a version of this package without grants have no
// grant_id and read back with an empty GrantID; the successor of such a
// pair starts a grant of its own (recorded in the marker), which a reuse of
// the old refresh token revokes.
//
// [Store.RevokeGrant] flags the grant's codes used, then its tokens
// revoked: two UpdateMany, each idempotent, so a failure in between is
// mended by calling it again. A grant with no code and no token stored is
// [storage.ErrNotFound].
//
// # Deleting a client without a transaction
//
// [Store.DeleteClient] deletes the client's codes, their used-markers, its
// tokens and their rotation markers (DeleteMany by client_id), then the
// client. Markers go after what they mark, so that a stop in between never
// leaves a pair that was rotated but not flagged without its marker.
// Dependents go first
// so that a failure part-way leaves the client in place and the call can
// simply be retried: every step is idempotent, and a retry after a
// completed call returns [storage.ErrNotFound]. Without a transaction the
// deletion is not a snapshot: a code or token created for the client while
// DeleteClient runs may survive it, so stop issuing to a client before
// deleting it.
//
// # Managing clients
//
// The store implements [storage.ClientManager] and [storage.StatsReporter].
// Every write to a client is one single-document UpdateOne by _id, so a
// client document is never left half-changed:
//
//   - [Store.UpdateClient] sets the registration fields (and unsets an
//     emptied scope or user ID); it never names a secret field.
//   - [Store.RotateClientSecret] hashes the new secret first (so an unknown
//     client takes as long as a known one), reads the client's secret
//     fields, and writes the new hash, the previous hash and its end
//     instant ([backendkit.RotateSecrets]) with an UpdateOne whose filter
//     is {_id, secret_hash: the hash it read} (secret_hash absent for a
//     public client). No match means the secret changed since the read (or
//     the client is gone): it reads again, 8 times at most, then fails
//     without writing. A salted hash never recurs, so a matching hash is
//     the secret that was read.
//   - [Store.RemoveClientSecrets] unsets the three secret fields.
//
// [Store.AuthenticateClient] verifies with [backendkit.ClientAuth]: the
// current secret, or the previous one until its end instant by the store's
// clock; an unknown or public client is verified against a dummy hash, so
// that a failure takes the time of a real verification.
// [Store.GetClient] and [Store.ListClients] report the end instant in
// PreviousSecretValidUntil while the previous secret is valid. A client ID
// that could never be stored ([backendkit.LookupID]: empty, too long, not
// UTF-8, with a NUL) is answered [storage.ErrNotFound] without a query.
//
// Concurrent writes to one client: on MongoDB every UpdateOne is atomic on
// its document, so UpdateClient, RotateClientSecret and RemoveClientSecrets
// of one client may run concurrently, and concurrent rotations serialize:
// each that returns nil took effect in some order, the last one's secret is
// current and the one before it is the previous secret (as if they had run
// one after another). On FerretDB, whose updates read the document, filter
// it and write it back whole in separate steps, that holds only for calls
// that do not overlap: two overlapping rotations may both match the same
// hash and both return nil, the later write wins, and the other's new
// secret never authenticates (the client is still left with a current
// secret some caller set and the previous secret both read, never a mix of
// two rotations); an UpdateClient or RemoveClientSecrets overlapping
// another write of the same client may likewise be undone by it. There,
// manage one client from one caller at a time.
//
// [Store.ListClients] is keyset pagination on _id, which MongoDB compares
// bytewise as the contract orders client IDs: a find of _id > After (and
// user_id = UserID, on the {user_id, _id} index), sorted by _id, limited
// to one more client than the page holds, which tells whether a next page
// exists. A client stored before a listing and not deleted during it is
// listed exactly once, whatever is inserted meanwhile. On FerretDB, which
// pushes neither the range nor the sort down, every page reads the whole
// collection.
//
// [Store.RevokeClientTokens] flags the client's codes used and its tokens
// revoked, one UpdateMany by client_id (indexed) each, idempotent as
// [Store.RevokeGrant] is; with nothing to flag it is [storage.ErrNotFound]
// unless the client is registered.
//
// [Store.Stats] counts clients with CountDocuments and reads every code and
// token document (a projection of the fields that decide its state), by the
// store's clock at the start of the call, since expiry is the store's
// decision, not the server's. A code or pair not flagged whose used-marker
// or rotation marker exists (a consumption or rotation that stopped before
// flagging it) counts as used or revoked; those markers are looked up by
// _id, a thousand at a time. It is a full scan, for operators, not for
// every request.
//
// # Expiry, TTL indexes and PurgeExpired
//
// [Store.PurgeExpired] deletes, by the store's clock, codes (and their
// used-markers) whose expiry is past and tokens (and their rotation
// markers) whose access and refresh lifetimes have both ended
// ([backendkit.PurgeAt]); markers go after what they mark, and are not
// counted. A revoked or rotated pair is kept until then, so that its reuse
// is detected until its refresh token expires. It works in bounded batches
// ([WithPurgeBatchSize], [DefaultPurgeBatchSize] documents): it reads the
// _ids of expired documents (a query on the indexed date field), sorts
// them, and deletes each batch with a DeleteMany on its _ids and the expiry
// again, so no statement removes more than a batch or holds its locks for
// long, and a document changed since it was read is not deleted. ctx is
// checked between batches.
//
// On MongoDB, New also makes those indexes TTL indexes, so the server
// deletes expired documents by itself, a grace period ([WithTTLGrace],
// [DefaultTTLGrace] by default) after their expiry: a used code stays that
// long past its expiry, so a replay is still told apart as
// [storage.ErrAlreadyUsed] rather than [storage.ErrNotFound]. A TTL index
// reads the server's clock; the grace period also absorbs the difference
// with the store's. Servers that answer NotImplemented for TTL indexes
// (FerretDB) get plain indexes instead: New goes on, calls the
// [WithTTLUnsupported] function, [Store.TTLEnabled] reports false, and
// PurgeExpired must be called periodically (package purger does). FerretDB scans the whole
// collection for every delete, so there each batch costs a scan (and its
// SQLite handler fails on a single delete of more than 32,766 documents,
// which the batches avoid).
//
// # What the store needs from the server
//
// Single-document inserts that enforce unique indexes (including _id),
// single-document updates (including findAndModify returning the document
// before the update), UpdateMany, DeleteMany, createIndexes with unique and
// compound indexes, and CountDocuments (an aggregate of $match and $group
// with $sum, for [Store.Stats]). Codes and tokens need no update to be
// atomic under concurrency: every decision is an insert. Only concurrent
// writes to one client rely on single-document atomicity (see Managing
// clients). No transactions, sessions, change streams, other aggregations
// or partial indexes; TTL indexes are used when offered. Reads go to the
// primary. On a replica set, use a majority write concern (the default
// since MongoDB 5.0) so that an acknowledged consume survives a fail-over.
// On a sharded cluster the collections may stay unsharded; clients, codes,
// code_uses and rotations may be sharded on { _id: 1 }, which keeps _id
// unique across shards, but tokens must stay unsharded, because MongoDB enforces the
// unique index on refresh only on a collection sharded on that field.
package mongostore
