package mongostore

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultCollectionPrefix is the prefix of the store's collection names
// unless [WithCollectionPrefix] sets another.
const DefaultCollectionPrefix = "oauth_"

// The store's collection names, after the prefix.
const (
	ClientsCollection   = "clients"   // one document per client, _id = client ID
	CodesCollection     = "codes"     // one document per code, _id = digest of the code
	CodeUsesCollection  = "code_uses" // used-markers: one document per consumed code
	TokensCollection    = "tokens"    // one document per token pair, _id = digest of the access token
	RotationsCollection = "rotations" // rotation markers: one document per rotated refresh token
)

// DefaultTTLGrace is how long after expiry the TTL indexes let MongoDB keep
// a document unless [WithTTLGrace] says otherwise.
const DefaultTTLGrace = time.Hour

// DefaultPurgeBatchSize is how many documents [Store.PurgeExpired] deletes
// per statement unless [WithPurgeBatchSize] says otherwise.
const DefaultPurgeBatchSize = 1000

// flagTimeout bounds the writes that follow a decided insert: the
// best-effort write that flags a consumed code document after its
// used-marker was inserted (see [Store.ConsumeAuthorizationCode]), and the
// steps of [Store.RotateToken] after its rotation marker was inserted. They
// run on a context detached from the caller's, so that a cancellation after
// the decision does not leave it half-done.
const flagTimeout = 10 * time.Second

// Store is a [storage.Storage] on a MongoDB database. Create one with [New].
// It is safe for concurrent use, by any number of processes sharing the
// database.
type Store struct {
	opts   backendkit.Options // the options every backend has; read by New
	now    func() time.Time
	auth   *backendkit.ClientAuth // hashes and verifies client secrets
	prefix string
	grace  time.Duration
	reuse  time.Duration          // reuse interval of RotateToken
	cred   backendkit.Credentials // digests and checks codes and tokens

	onTTLUnsupported func(error)
	ttl              bool
	purgeBatch       int

	clients, codes, uses, tokens, rotations *mongo.Collection
}

var _ backendkit.Backend = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock the store uses for every expiry decision. The
// default is [time.Now]. The server's clock is never consulted, except by
// TTL indexes, which delete only what has been expired for the grace period
// of [WithTTLGrace].
func WithClock(now func() time.Time) Option { return func(s *Store) { s.opts.SetClock(now) } }

// WithHasher sets the hasher for client secrets. The default is
// [secret.Default].
func WithHasher(h secret.Hasher) Option { return func(s *Store) { s.opts.SetHasher(h) } }

// WithCollectionPrefix sets the prefix of the five collection names
// ([DefaultCollectionPrefix] by default), so that several stores can share a
// database. It must be at most [MaxCollectionPrefixLen] ASCII letters,
// digits, '_', '-' and '.', and not start with "system.": anything else
// makes [New] fail with [storage.ErrInvalid]. It may be empty.
func WithCollectionPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithTTLGrace sets how long after its expiry a code or token document stays
// before a TTL index lets the server delete it: [DefaultTTLGrace] by
// default. A used code is told apart from an unknown one
// ([storage.ErrAlreadyUsed] rather than [storage.ErrNotFound]) only while it
// is stored, so the grace period is the replay window kept beyond expiry.
// It is rounded up to whole seconds; a negative value makes [New] fail.
// An existing TTL index with another grace period is changed to this one.
func WithTTLGrace(d time.Duration) Option { return func(s *Store) { s.grace = d } }

// WithPurgeBatchSize sets how many documents one delete statement of
// [Store.PurgeExpired] may remove: [DefaultPurgeBatchSize] by default. A
// large backlog of expired documents is thus deleted in many short
// statements, none of which holds its locks for long or exceeds a server's
// limits (FerretDB's SQLite handler fails on a delete of more than 32,766
// documents; keep n well below that there). n <= 0 makes [New] fail with
// [storage.ErrInvalid].
func WithPurgeBatchSize(n int) Option { return func(s *Store) { s.purgeBatch = n } }

// WithReuseInterval sets the reuse interval of [Store.RotateToken]: for d
// after a rotation (by the store's clock), a replay of the rotated refresh
// token fails with [storage.ErrRevoked] without revoking the grant, for
// clients that retry a refresh whose answer they lost. The default, 0, is no
// interval: every replay revokes the grant. A pair revoked rather than
// rotated never has one. A non-positive d means none.
func WithReuseInterval(d time.Duration) Option { return func(s *Store) { s.opts.SetReuseInterval(d) } }

// WithDigestKeys makes the store key codes and tokens by their HMAC-SHA-256
// under keys (see [secret.Keyed]) instead of their SHA-256: the current key
// for the documents it writes, every key, current first, for the documents
// it looks up. A rotation with [secret.Keyed.SetKeys] takes effect at the
// next call. nil keeps the default, unkeyed digests.
func WithDigestKeys(keys *secret.Keyed) Option { return func(s *Store) { s.opts.SetDigestKeys(keys) } }

// WithMinCredentialLength makes CreateAuthorizationCode, CreateToken and
// RotateToken reject, with [storage.ErrInvalid], a code or token shorter
// than n bytes. The default, 0 (as any n <= 0), accepts any length.
func WithMinCredentialLength(n int) Option {
	return func(s *Store) { s.opts.SetMinCredentialLength(n) }
}

// MaxCollectionPrefixLen is the longest prefix [WithCollectionPrefix]
// accepts.
const MaxCollectionPrefixLen = 64

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,64}$`)

// WithTTLUnsupported sets a function [New] calls, with the server's answer,
// when the server refuses TTL indexes (FerretDB answers NotImplemented). The
// store then creates plain indexes on the expiry instants instead, and only
// [Store.PurgeExpired] deletes expired documents. [Store.TTLEnabled] reports
// the same thing after New.
func WithTTLUnsupported(f func(err error)) Option { return func(s *Store) { s.onTTLUnsupported = f } }

// New returns a store on db, creating its collections' indexes if they do
// not exist yet. It is idempotent: every process may call it at start-up.
//
// New first asks for TTL indexes on the expiry instants; if the server
// answers that it does not implement them, New creates plain indexes
// instead, calls the [WithTTLUnsupported] function and goes on.
func New(ctx context.Context, db *mongo.Database, opts ...Option) (*Store, error) {
	const op = "mongostore: new"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("%s: nil database: %w", op, storage.ErrInvalid)
	}
	s := &Store{
		prefix: DefaultCollectionPrefix, grace: DefaultTTLGrace, purgeBatch: DefaultPurgeBatchSize,
	}
	for _, o := range opts {
		o(s)
	}
	s.now, s.reuse = s.opts.Clock(), s.opts.ReuseInterval()
	s.auth, s.cred = s.opts.ClientAuth(), s.opts.Credentials()
	if !prefixRE.MatchString(s.prefix) || strings.HasPrefix(s.prefix, "system.") {
		return nil, fmt.Errorf("%s: collection prefix %q is not up to %d letters, digits, '_', '-' and '.' (nor starts with \"system.\"): %w",
			op, s.prefix, MaxCollectionPrefixLen, storage.ErrInvalid)
	}
	if s.grace < 0 {
		return nil, fmt.Errorf("%s: negative TTL grace period %v: %w", op, s.grace, storage.ErrInvalid)
	}
	if s.purgeBatch <= 0 {
		return nil, fmt.Errorf("%s: purge batch size %d: %w", op, s.purgeBatch, storage.ErrInvalid)
	}
	// Every decision reads what the previous write left: reads go to the
	// primary, whatever the database's own read preference.
	copts := options.Collection().SetReadPreference(readpref.Primary())
	s.clients = db.Collection(s.prefix+ClientsCollection, copts)
	s.codes = db.Collection(s.prefix+CodesCollection, copts)
	s.uses = db.Collection(s.prefix+CodeUsesCollection, copts)
	s.tokens = db.Collection(s.prefix+TokensCollection, copts)
	s.rotations = db.Collection(s.prefix+RotationsCollection, copts)
	if err := s.createIndexes(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s, nil
}

// TTLEnabled reports whether the store's expiry indexes are TTL indexes, so
// that the server deletes expired documents by itself. When false, call
// [Store.PurgeExpired] periodically.
func (s *Store) TTLEnabled() bool { return s.ttl }

// detached returns a context that ctx's cancellation does not reach,
// bounded by flagTimeout, for the writes that must follow a decision.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), flagTimeout)
}
