package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/internal/redislua"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultKeyPrefix is the hash tag that starts every key of a store unless
// [WithKeyPrefix] sets another: keys are named "{oauthstore}:…".
const DefaultKeyPrefix = "oauthstore"

// MaxKeyPrefixLen bounds the prefix [WithKeyPrefix] accepts, in bytes.
const MaxKeyPrefixLen = 128

// DefaultTTLGrace is how long after its expiry a code or token pair keeps
// its keys before Redis deletes them by their TTL, unless [WithTTLGrace]
// says otherwise.
const DefaultTTLGrace = time.Hour

// DefaultPurgeBatchSize is how many codes or token pairs one script of
// [Store.PurgeExpired] examines, unless [WithPurgeBatchSize] says
// otherwise.
const DefaultPurgeBatchSize = 1000

// writeTimeout bounds a write once it has been sent. Writes run on a
// context detached from the caller's cancellation: a script that Redis may
// already be running is waited for, so that the caller learns its outcome
// (a rotation whose answer was lost would make the client's retry a reuse).
const writeTimeout = 10 * time.Second

// rotateAttempts bounds how many times [Store.RotateToken] reads the old
// pair again because the pair its script found was not the one it read
// (deleted and created anew with the same refresh token meanwhile).
const rotateAttempts = 4

// Store is a [storage.Storage] on Redis (or Valkey), through go-redis.
// Create one with [New]. It is safe for concurrent use, by any number of
// processes sharing the server and the key prefix.
type Store struct {
	rdb  redis.UniversalClient
	opts backendkit.Options // the options every backend has; read by New
	now  func() time.Time
	auth *backendkit.ClientAuth

	cred   backendkit.Credentials // digests and checks codes and tokens
	prefix string                 // the hash tag's content, [DefaultKeyPrefix] by default
	k      keys
	grace  time.Duration
	reuse  time.Duration // reuse interval of RotateToken
	batch  int           // purge batch size
}

var _ backendkit.Backend = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock the store uses for every expiry decision. The
// default is [time.Now]; nil keeps the default. The server's clock is never
// consulted: scripts are given this clock's instant. Only key TTLs run on
// the server's clock, and they delete nothing before the grace period of
// [WithTTLGrace] has passed since expiry.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.opts.SetClock(now) } }

// WithHasher sets the hasher for client secrets. The default is
// [secret.Default]; nil keeps the default.
func WithHasher(h secret.Hasher) Option { return func(s *Store) { s.opts.SetHasher(h) } }

// WithKeyPrefix sets the prefix of every key name: keys are named
// "{prefix}:kind:…", so the prefix is the Redis Cluster hash tag that puts
// all of the store's keys in one hash slot. Several stores may share a
// server or a database with different prefixes. The prefix must be
// non-empty valid UTF-8 of at most [MaxKeyPrefixLen] bytes, without NUL,
// '{' or '}': anything else makes [New] fail with [storage.ErrInvalid].
// The default is [DefaultKeyPrefix].
func WithKeyPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithTTLGrace sets how long after its expiry (by the store's clock) a
// code or token pair keeps its keys before Redis deletes them by their TTL:
// [DefaultTTLGrace] by default. A used code is told apart from an unknown
// one ([storage.ErrAlreadyUsed] rather than [storage.ErrNotFound]) only
// while it is stored, so the grace period is the replay window kept beyond
// expiry when [Store.PurgeExpired] does not delete it first. It is rounded
// up to the millisecond; a negative value makes [New] fail with
// [storage.ErrInvalid].
func WithTTLGrace(d time.Duration) Option { return func(s *Store) { s.grace = d } }

// WithPurgeBatchSize sets how many codes or token pairs one script of
// [Store.PurgeExpired] examines: [DefaultPurgeBatchSize] by default. Redis
// runs one script at a time, so smaller batches keep other clients waiting
// less. n <= 0 makes [New] fail with [storage.ErrInvalid].
func WithPurgeBatchSize(n int) Option { return func(s *Store) { s.batch = n } }

// WithReuseInterval sets the reuse interval of [Store.RotateToken]: for d
// after a rotation (by the store's clock, the rotation instant kept to the
// millisecond), a replay of the rotated refresh token fails with
// [storage.ErrRevoked] without revoking the grant, for clients that retry a
// refresh whose answer they lost. The default, 0, is no interval: every
// replay revokes the grant. A pair revoked rather than rotated never has
// one. A non-positive d means none.
func WithReuseInterval(d time.Duration) Option { return func(s *Store) { s.opts.SetReuseInterval(d) } }

// WithDigestKeys makes the store name the keys of codes and tokens by
// their HMAC-SHA-256 under keys (see [secret.Keyed]) instead of their
// SHA-256: the current key for what it writes, every key, current first,
// for what it looks up. A rotation with [secret.Keyed.SetKeys] takes effect
// at the next call. nil keeps the default, unkeyed digests.
func WithDigestKeys(keys *secret.Keyed) Option { return func(s *Store) { s.opts.SetDigestKeys(keys) } }

// WithMinCredentialLength makes CreateAuthorizationCode, CreateToken and
// RotateToken reject, with [storage.ErrInvalid], a code or token shorter
// than n bytes. The default, 0 (as any n <= 0), accepts any length.
func WithMinCredentialLength(n int) Option {
	return func(s *Store) { s.opts.SetMinCredentialLength(n) }
}

// New returns a store on the server client talks to: a *redis.Client, a
// failover client or a *redis.ClusterClient (see the package
// documentation for Redis Cluster). It pings the server and loads the
// store's scripts, so that a server without scripting fails here rather
// than at the first request. Nothing else is written: keys are created as
// records are. Every process may call it at start-up.
func New(ctx context.Context, client redis.UniversalClient, opts ...Option) (*Store, error) {
	const op = "redisstore: new"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, fmt.Errorf("%s: nil client: %w", op, storage.ErrInvalid)
	}
	s := &Store{
		rdb: client, prefix: DefaultKeyPrefix, grace: DefaultTTLGrace, batch: DefaultPurgeBatchSize,
	}
	for _, o := range opts {
		o(s)
	}
	if err := checkPrefix(s.prefix); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if s.grace < 0 {
		return nil, fmt.Errorf("%s: negative TTL grace period %v: %w", op, s.grace, storage.ErrInvalid)
	}
	if s.batch <= 0 {
		return nil, fmt.Errorf("%s: purge batch size %d: %w", op, s.batch, storage.ErrInvalid)
	}
	s.k = keys{p: "{" + s.prefix + "}:"}
	s.now, s.reuse = s.opts.Clock(), s.opts.ReuseInterval()
	s.auth, s.cred = s.opts.ClientAuth(), s.opts.Credentials()
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("%s: ping: %w", op, err)
	}
	for _, sc := range redislua.All {
		if err := sc.Load(ctx, client).Err(); err != nil {
			return nil, fmt.Errorf("%s: loading scripts: %w", op, err)
		}
	}
	return s, nil
}

func checkPrefix(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty key prefix: %w", storage.ErrInvalid)
	case len(p) > MaxKeyPrefixLen:
		return fmt.Errorf("key prefix of %d bytes is longer than %d: %w", len(p), MaxKeyPrefixLen, storage.ErrInvalid)
	case !utf8.ValidString(p) || strings.ContainsAny(p, "\x00{}"):
		return fmt.Errorf("key prefix %q: not valid UTF-8, or contains NUL, '{' or '}': %w", p, storage.ErrInvalid)
	}
	return nil
}

// KeyPrefix returns the prefix every key of the store starts with,
// "{prefix}:", hash tag included.
func (s *Store) KeyPrefix() string { return s.k.p }

// keys names the store's keys. Every name starts with p, "{prefix}:", the
// store's hash tag. The scripts derive the same names from p (see
// internal/redislua); the two must agree.
type keys struct{ p string }

func (k keys) client(id string) string    { return k.p + "client:" + id }
func (k keys) clients() string            { return k.p + "clients" }
func (k keys) owner(userID string) string { return k.p + "owner:" + userID }
func (k keys) code(d string) string       { return k.p + "code:" + d }
func (k keys) access(d string) string     { return k.p + "access:" + d }
func (k keys) refresh(d string) string    { return k.p + "refresh:" + d }
func (k keys) grant(id string) string     { return k.p + "grant:" + id }
func (k keys) issued(id string) string    { return k.p + "issued:" + id }
func (k keys) codeExpiry() string         { return k.p + "expiry:codes" }
func (k keys) tokenExpiry() string        { return k.p + "expiry:tokens" }

// expiryMember is the member of an expiry sorted set for the record of
// digest d: the digest, then the length of the client ID, the client ID
// and the grant ID, so that [Store.PurgeExpired] can remove the record's
// index entries even after Redis has deleted the record by its TTL.
func expiryMember(d, clientID, grantID string) string {
	return d + " " + strconv.Itoa(len(clientID)) + " " + clientID + grantID
}

// ttl returns the TTL, in milliseconds, of the keys of a record that
// expires at expMs (unix milliseconds, by the store's clock) when written
// at now: the time left until expiry, at least zero, plus the grace period.
// It is relative, so the server deletes the keys no earlier than the
// grace period after the record expired, whatever the offset between its
// clock and the store's.
func (s *Store) ttl(expMs int64, now time.Time) int64 {
	left := max(expMs-backendkit.CeilMillis(now), 0)
	return max(left+ceilDurationMillis(s.grace), 1)
}

// ceilDurationMillis returns d in milliseconds, rounded up.
func ceilDurationMillis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond > 0 {
		ms++
	}
	return ms
}

// writeCtx returns the context writes run on: ctx's values, not its
// cancellation, bounded by [writeTimeout].
func writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}

// errCorrupt reports a stored record the store cannot read.
var errCorrupt = errors.New("redisstore: corrupt record")
