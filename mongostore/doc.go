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
// The store keeps four collections, named with a prefix
// ([DefaultCollectionPrefix], or [WithCollectionPrefix]):
//
//   - clients: one document per client, _id = client ID, the secret as a
//     salted slow hash ([WithHasher]).
//   - codes: one document per authorization code, _id = [secret.Digest] of
//     the code, with a used flag.
//   - code_uses: the used-markers of consumed codes (see below).
//   - tokens: one document per access token and its optional refresh token,
//     _id = digest of the access token, refresh = digest of the refresh
//     token (absent when there is none) under a unique sparse index.
//
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
// [Store.GetAuthorizationCode] checks both.
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
// # Deleting a client without a transaction
//
// [Store.DeleteClient] deletes the client's codes, their used-markers and
// its tokens (DeleteMany by client_id), then the client. Dependents go first
// so that a failure part-way leaves the client in place and the call can
// simply be retried: every step is idempotent, and a retry after a
// completed call returns [storage.ErrNotFound]. Without a transaction the
// deletion is not a snapshot: a code or token created for the client while
// DeleteClient runs may survive it, so stop issuing to a client before
// deleting it.
//
// # Expiry, TTL indexes and PurgeExpired
//
// [Store.PurgeExpired] deletes, by the store's clock, codes (and markers)
// whose expiry is past and tokens whose access and refresh lifetimes have
// both ended ([backendkit.PurgeAt]). It works in bounded batches
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
// PurgeExpired must be called periodically. FerretDB scans the whole
// collection for every delete, so there each batch costs a scan (and its
// SQLite handler fails on a single delete of more than 32,766 documents,
// which the batches avoid).
//
// # What the store needs from the server
//
// Single-document inserts that enforce unique indexes (including _id),
// single-document updates, DeleteMany, and createIndexes with unique
// indexes. No transactions, sessions, change streams, aggregation or
// partial indexes; TTL indexes are used when offered. Reads go to the
// primary. On a replica set, use a majority write concern (the default
// since MongoDB 5.0) so that an acknowledged consume survives a fail-over.
// On a sharded cluster the collections may stay unsharded; clients, codes
// and code_uses may be sharded on { _id: 1 }, which keeps _id unique across
// shards, but tokens must stay unsharded, because MongoDB enforces the
// unique index on refresh only on a collection sharded on that field.
package mongostore
