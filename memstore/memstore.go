package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// shardCount is the number of independently locked partitions of the code
// and token maps. Credentials are random, so their digests spread evenly.
const shardCount = 32

// key is the SHA-256 digest of a credential: the only form in which the
// store keeps codes and tokens.
type key [sha256.Size]byte

// digest hashes credential without allocating for credentials up to 128
// bytes: converting a longer-than-32-byte string to []byte would escape to
// the heap on every lookup.
func digest(credential string) key {
	if len(credential) <= 128 {
		var buf [128]byte
		n := copy(buf[:], credential)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(credential))
}

// writeKey is the key under which the store writes credential.
func (s *Store) writeKey(credential string) key {
	if !s.cred.Keyed() {
		return digest(credential)
	}
	return s.cred.Sum(credential)
}

// find looks credential up with look under each key it may be stored
// under, current first, and returns the first hit and its key.
func find[T any](s *Store, credential string, look func(key) (T, bool)) (key, T, bool) {
	if !s.cred.Keyed() {
		k := digest(credential)
		v, ok := look(k)
		return k, v, ok
	}
	for _, sum := range s.cred.Sums(credential) {
		if v, ok := look(sum); ok {
			return sum, v, true
		}
	}
	var zero T
	return key{}, zero, false
}

// findCode returns the record of code and the key it is stored under.
func (s *Store) findCode(code string) (key, *codeRec, bool) {
	return find(s, code, func(k key) (*codeRec, bool) {
		sh := s.shardOf(k)
		sh.mu.RLock()
		rec, ok := sh.codes[k]
		sh.mu.RUnlock()
		return rec, ok
	})
}

// Errors of the lookups that miss, built once: a miss is as frequent as a
// hit for a server probing random tokens, and should not allocate.
var (
	errAccessNotFound  = fmt.Errorf("memstore: get token by access token: %w", storage.ErrNotFound)
	errRefreshNotFound = fmt.Errorf("memstore: get token by refresh token: %w", storage.ErrNotFound)
)

type codeRec struct {
	code models.AuthorizationCode // Code is always empty
	// used is set once, by the one consumer whose CompareAndSwap wins or
	// by RevokeGrant; atomic, so neither needs the shard's write lock.
	used atomic.Bool
	// gh is grantHash(code.GrantID); grantLinks link the codes of that
	// hash (see grantRec), guarded by its grant shard's mu.
	gh uint64
	grantLinks[codeRec]
}

type tokenRec struct {
	tok        models.Token // AccessToken and RefreshToken are always empty
	access     key
	refresh    key
	hasRefresh bool
	revoked    atomic.Bool // read under either credential's shard lock
	// rotatedAt is the store clock's instant, in unix nanoseconds, at which
	// RotateToken replaced the pair; 0 if it did not.
	rotatedAt atomic.Int64
	// gh is grantHash(tok.GrantID); grantLinks link the tokens of that
	// hash (see grantRec), guarded by its grant shard's mu.
	gh uint64
	grantLinks[tokenRec]
}

// grantRec indexes the records of one grant, for RevokeGrant and reuse
// detection: the heads of two doubly linked lists threaded through the
// records themselves, so that indexing a record allocates nothing and
// unindexing it is constant-time. It is keyed by the grant ID's 64-bit
// seeded hash (grantHash), computed once per record, rather than by the
// string; the lists hold every record whose grant ID has that hash, so
// their readers compare the grant ID (two IDs sharing a hash stay apart).
// It lives, as a value, in the shard the hash selects and is guarded by
// that shard's mu; the flags it sets are atomic.
type grantRec struct {
	tokens *tokenRec
	codes  *codeRec
}

type shard struct {
	mu      sync.RWMutex
	codes   map[key]*codeRec
	access  map[key]*tokenRec
	refresh map[key]*tokenRec
	grants  map[uint64]grantRec
}

type clientRec struct {
	client  models.Client // ClientSecret is always empty; SecretHash is secrets.Hash
	secrets backendkit.Secrets
}

// Store is an in-memory [storage.Storage]. The zero value is not usable:
// create one with [New]. It is safe for concurrent use.
type Store struct {
	opts  backendkit.Options // what the options set; read by New
	now   func() time.Time
	reuse time.Duration // reuse interval of RotateToken
	seed  maphash.Seed  // of the grant shard hash
	cred  backendkit.Credentials

	clientsMu sync.RWMutex
	clients   map[string]*clientRec
	ids       []string // the keys of clients, sorted: ListClients pages through it
	auth      *backendkit.ClientAuth

	shards [shardCount]shard
}

var _ backendkit.Backend = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock the store uses for every expiry decision. The
// default is [time.Now].
func WithClock(now func() time.Time) Option { return func(s *Store) { s.opts.SetClock(now) } }

// WithHasher sets the hasher for client secrets. The default is
// [secret.Default].
func WithHasher(h secret.Hasher) Option { return func(s *Store) { s.opts.SetHasher(h) } }

// WithReuseInterval sets the reuse interval of [Store.RotateToken]: for d
// after a rotation, a replay of the rotated refresh token fails with
// [storage.ErrRevoked] without revoking the grant, for clients that retry
// a refresh whose answer they lost. The default, 0, is no interval: every
// replay revokes the grant.
func WithReuseInterval(d time.Duration) Option { return func(s *Store) { s.opts.SetReuseInterval(d) } }

// WithDigestKeys makes the store key codes and tokens by their HMAC-SHA-256
// under keys (see [secret.Keyed]) instead of their SHA-256: the current key
// for what it writes, every key, current first, for what it looks up. A
// rotation with [secret.Keyed.SetKeys] takes effect at the next call. nil
// keeps the default, unkeyed digests.
func WithDigestKeys(keys *secret.Keyed) Option { return func(s *Store) { s.opts.SetDigestKeys(keys) } }

// WithMinCredentialLength makes CreateAuthorizationCode, CreateToken and
// RotateToken reject, with [storage.ErrInvalid], a code or token shorter
// than n bytes. The default, 0 (as any n <= 0), accepts any length.
func WithMinCredentialLength(n int) Option {
	return func(s *Store) { s.opts.SetMinCredentialLength(n) }
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{clients: make(map[string]*clientRec), seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i] = shard{
			codes:   make(map[key]*codeRec),
			access:  make(map[key]*tokenRec),
			refresh: make(map[key]*tokenRec),
			grants:  make(map[uint64]grantRec),
		}
	}
	for _, o := range opts {
		o(s)
	}
	s.now, s.reuse = s.opts.Clock(), s.opts.ReuseInterval()
	s.auth, s.cred = s.opts.ClientAuth(), s.opts.Credentials()
	return s
}

func (s *Store) shardOf(k key) *shard { return &s.shards[k[0]%shardCount] }

func shardIndex(k key) uint8 { return k[0] % shardCount }

// grantHash is the key of grantID's grantRec.
func (s *Store) grantHash(grantID string) uint64 { return maphash.String(s.seed, grantID) }

// grantShard is the index of the shard that holds the grantRec of the grant
// ID whose grantHash is h.
func grantShard(h uint64) uint8 { return uint8(h % shardCount) }

// lockSet is the set of shards one operation write-locks together. They
// are locked in index order, so operations that lock several never
// deadlock.
type lockSet struct {
	n   int
	idx [4]uint8
}

func (l *lockSet) add(i uint8) {
	for _, j := range l.idx[:l.n] {
		if j == i {
			return
		}
	}
	l.idx[l.n] = i
	l.n++
	for k := l.n - 1; k > 0 && l.idx[k] < l.idx[k-1]; k-- {
		l.idx[k], l.idx[k-1] = l.idx[k-1], l.idx[k]
	}
}

func (s *Store) lock(l *lockSet) {
	for _, i := range l.idx[:l.n] {
		s.shards[i].mu.Lock()
	}
}

func (s *Store) unlock(l *lockSet) {
	for _, i := range l.idx[:l.n] {
		s.shards[i].mu.Unlock()
	}
}

// grantLinks are a record's links in its grant's list.
type grantLinks[T any] struct{ gprev, gnext *T }

func (l *grantLinks[T]) links() *grantLinks[T] { return l }

// linked is a record type of the grant lists.
type linked[T any] interface {
	*T
	links() *grantLinks[T]
}

// pushGrant puts r at the head of the list whose head is *head.
func pushGrant[T any, P linked[T]](head **T, r P) {
	l := r.links()
	if l.gnext = *head; l.gnext != nil {
		P(l.gnext).links().gprev = (*T)(r)
	}
	*head = (*T)(r)
}

// unlinkGrant takes r out of its list. If r was the head, it returns the
// new head (perhaps nil) and true, for the caller to store in the grantRec.
func unlinkGrant[T any, P linked[T]](r P) (*T, bool) {
	l := r.links()
	next, prev := l.gnext, l.gprev
	l.gprev, l.gnext = nil, nil
	if next != nil {
		P(next).links().gprev = prev
	}
	if prev != nil {
		P(prev).links().gnext = next
		return nil, false
	}
	return next, true
}

// indexToken and indexCode add a new record to its grant's list; the
// caller holds the grant shard's write lock.
func (s *Store) indexToken(t *tokenRec) {
	sh := &s.shards[grantShard(t.gh)]
	g := sh.grants[t.gh]
	pushGrant(&g.tokens, t)
	sh.grants[t.gh] = g
}

func (s *Store) indexCode(c *codeRec) {
	sh := &s.shards[grantShard(c.gh)]
	g := sh.grants[c.gh]
	pushGrant(&g.codes, c)
	sh.grants[c.gh] = g
}

// unindexToken and unindexCode drop a deleted record from its grant's
// list, and the grant when it has no record left; the caller holds the
// grant shard's write lock.
func (s *Store) unindexToken(t *tokenRec) {
	if head, ok := unlinkGrant(t); ok {
		sh := &s.shards[grantShard(t.gh)]
		g := sh.grants[t.gh]
		g.tokens = head
		setGrant(sh, t.gh, g)
	}
}

func (s *Store) unindexCode(c *codeRec) {
	if head, ok := unlinkGrant(c); ok {
		sh := &s.shards[grantShard(c.gh)]
		g := sh.grants[c.gh]
		g.codes = head
		setGrant(sh, c.gh, g)
	}
}

// setGrant stores g as the index of grant hash h, or drops it if it lists
// nothing.
func setGrant(sh *shard, h uint64, g grantRec) {
	if g.tokens == nil && g.codes == nil {
		delete(sh.grants, h)
		return
	}
	sh.grants[h] = g
}

// revokeGrantTokens revokes every token of grantID, and if codes also
// marks its codes used; it reports whether the grant has any record. The
// caller holds no lock.
func (s *Store) revokeGrantTokens(grantID string, codes bool) bool {
	h := s.grantHash(grantID)
	sh := &s.shards[grantShard(h)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return revokeIndexed(sh, h, grantID, codes)
}

// revokeIndexed is revokeGrantTokens for a caller that holds a lock on the
// shard of h, grantID's grantHash.
func revokeIndexed(sh *shard, h uint64, grantID string, codes bool) bool {
	g := sh.grants[h]
	found := false
	for t := g.tokens; t != nil; t = t.gnext {
		if t.tok.GrantID == grantID {
			t.revoked.Store(true)
			found = true
		}
	}
	for c := g.codes; c != nil; c = c.gnext {
		if c.code.GrantID == grantID {
			if codes {
				c.used.Store(true)
			}
			found = true
		}
	}
	return found
}

// lockAll write-locks every shard, in order, for the operations that span
// them (DeleteClient, PurgeExpired). It returns the unlock function.
func (s *Store) lockAll() func() {
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
	return func() {
		for i := range s.shards {
			s.shards[i].mu.Unlock()
		}
	}
}

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore]. The
// code and its grant's index entry are written under the locks of both
// their shards.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "memstore: create authorization code"
	rec, err := s.cred.StartCreateCode(ctx, op, c)
	if err != nil {
		return err
	}
	k := s.writeKey(rec.Code)
	rec.Code = ""
	gh := s.grantHash(rec.GrantID)
	var l lockSet
	l.add(shardIndex(k))
	l.add(grantShard(gh))
	s.lock(&l)
	defer s.unlock(&l)
	sh := s.shardOf(k)
	if _, taken := sh.codes[k]; taken {
		return fmt.Errorf("%s for client %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	cr := &codeRec{code: rec, gh: gh}
	sh.codes[k] = cr
	s.indexCode(cr)
	return nil
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "memstore: get authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	_, rec, ok := s.findCode(code)
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	out := rec.code
	if err := backendkit.CheckCode(&out, rec.used.Load(), s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.Code = code
	return &out, nil
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
// The winner is the one caller whose CompareAndSwap of the code's used flag
// succeeds. A replay revokes the tokens of the code's grant.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "memstore: consume authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	_, rec, ok := s.findCode(code)
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	out := rec.code
	if !rec.used.Load() {
		if err := backendkit.CheckCode(&out, false, now); err != nil {
			return nil, fmt.Errorf("memstore: %w", err) // expired: not consumed
		}
		if rec.used.CompareAndSwap(false, true) {
			out.Code = code
			return &out, nil
		}
	}
	s.revokeGrantTokens(out.GrantID, false)
	return nil, fmt.Errorf("memstore: %w", backendkit.CheckCode(&out, true, now))
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "memstore: delete authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	for {
		k, rec, ok := s.findCode(code)
		if !ok {
			return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		sh := s.shardOf(k)
		var l lockSet
		l.add(shardIndex(k))
		l.add(grantShard(rec.gh))
		s.lock(&l)
		if sh.codes[k] == rec { // not deleted or replaced meanwhile
			delete(sh.codes, k)
			s.unindexCode(rec)
			s.unlock(&l)
			return nil
		}
		s.unlock(&l)
	}
}

// CreateToken implements [storage.TokenStore]. The shards of the access
// digest, the refresh digest and the grant are locked together, in index
// order, so the uniqueness checks and the inserts are one atomic step.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "memstore: create token"
	tok, err := s.cred.StartCreateToken(ctx, op, t)
	if err != nil {
		return err
	}
	rec := s.newTokenRec(tok)
	var l lockSet
	s.tokenLocks(&l, rec)
	s.lock(&l)
	defer s.unlock(&l)
	if err := s.insertToken(rec); err != nil {
		return fmt.Errorf("%s for client %q: %w", op, tok.ClientID, err)
	}
	return nil
}

// newTokenRec makes the record of the normalized token tok, keeping only
// the digests of its credentials.
func (s *Store) newTokenRec(tok models.Token) *tokenRec {
	rec := &tokenRec{access: s.writeKey(tok.AccessToken), hasRefresh: tok.RefreshToken != ""}
	if rec.hasRefresh {
		rec.refresh = s.writeKey(tok.RefreshToken)
	}
	tok.AccessToken, tok.RefreshToken = "", ""
	rec.tok = tok
	if tok.GrantID != "" { // a successor's is its predecessor's: see rotateLocked
		rec.gh = s.grantHash(tok.GrantID)
	}
	return rec
}

// tokenLocks adds the shards insertToken writes for rec to l.
func (s *Store) tokenLocks(l *lockSet, rec *tokenRec) {
	l.add(shardIndex(rec.access))
	if rec.hasRefresh {
		l.add(shardIndex(rec.refresh))
	}
	l.add(grantShard(rec.gh))
}

// insertToken stores rec, or returns [storage.ErrAlreadyExists] and stores
// nothing if either credential is taken. The caller holds the locks of
// tokenLocks.
func (s *Store) insertToken(rec *tokenRec) error {
	a := s.shardOf(rec.access)
	if _, taken := a.access[rec.access]; taken {
		return fmt.Errorf("access token: %w", storage.ErrAlreadyExists)
	}
	if rec.hasRefresh {
		r := s.shardOf(rec.refresh)
		if _, taken := r.refresh[rec.refresh]; taken {
			return fmt.Errorf("refresh token: %w", storage.ErrAlreadyExists)
		}
		r.refresh[rec.refresh] = rec
	}
	a.access[rec.access] = rec
	s.indexToken(rec)
	return nil
}

func (s *Store) lookupToken(credential string, byRefresh bool) (*tokenRec, bool) {
	_, rec, ok := s.findToken(credential, byRefresh)
	return rec, ok
}

// findToken returns the pair whose access (or refresh) token is credential
// and the key it is stored under.
func (s *Store) findToken(credential string, byRefresh bool) (key, *tokenRec, bool) {
	return find(s, credential, func(k key) (*tokenRec, bool) {
		sh := s.shardOf(k)
		sh.mu.RLock()
		var rec *tokenRec
		var ok bool
		if byRefresh {
			rec, ok = sh.refresh[k]
		} else {
			rec, ok = sh.access[k]
		}
		sh.mu.RUnlock()
		return rec, ok
	})
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "memstore: get token by access token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	rec, ok := s.lookupToken(accessToken, false)
	if !ok {
		return nil, errAccessNotFound
	}
	out := rec.tok
	out.Revoked = rec.revoked.Load()
	if err := backendkit.CheckAccess(&out, s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.AccessToken = accessToken
	return &out, nil
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "memstore: get token by refresh token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%s: empty refresh token: %w", op, storage.ErrNotFound)
	}
	rec, ok := s.lookupToken(refreshToken, true)
	if !ok {
		return nil, errRefreshNotFound
	}
	out := rec.tok
	out.Revoked = rec.revoked.Load()
	if err := backendkit.CheckRefresh(&out, s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.RefreshToken = refreshToken
	return &out, nil
}

// RevokeToken implements [storage.TokenStore]. Both credentials of a pair
// share one record, so revoking by either revokes both; a value that is
// one pair's access token and another's refresh token revokes both pairs.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "memstore: revoke token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	found := false
	if rec, ok := s.lookupToken(token, false); ok {
		rec.revoked.Store(true)
		found = true
	}
	if token != "" {
		if rec, ok := s.lookupToken(token, true); ok {
			rec.revoked.Store(true)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// RotateToken implements [storage.TokenStore]. The shards of the old
// refresh token, of the new credentials and of the grant are locked
// together: concurrent rotations of one refresh token run one after the
// other, and the first revokes the pair the others then find revoked.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "memstore: rotate token"
	n, err := s.cred.StartRotate(ctx, op, refreshToken, next)
	if err != nil {
		return err
	}
	now := s.now()
	for {
		k, old, ok := s.findToken(refreshToken, true)
		if !ok {
			return errRotateNotFound
		}
		sh := s.shardOf(k)
		var l lockSet
		l.add(shardIndex(k))
		l.add(grantShard(old.gh))
		rec := s.newTokenRec(n)
		l.add(shardIndex(rec.access))
		if rec.hasRefresh {
			l.add(shardIndex(rec.refresh))
		}
		s.lock(&l)
		if sh.refresh[k] != old { // purged or deleted meanwhile: look again
			s.unlock(&l)
			continue
		}
		err := s.rotateLocked(old, rec, now)
		s.unlock(&l)
		if err != nil {
			return fmt.Errorf("memstore: %w", err)
		}
		return nil
	}
}

var errRotateNotFound = fmt.Errorf("memstore: rotate token: %w", storage.ErrNotFound)

// rotateLocked replaces old by rec; the caller holds the locks of both and
// of their grant.
func (s *Store) rotateLocked(old, rec *tokenRec, now time.Time) error {
	cur := old.tok
	cur.Revoked = old.revoked.Load()
	if err := backendkit.CheckRefresh(&cur, now); err != nil {
		if !cur.Revoked {
			return fmt.Errorf("rotate token: %w", err) // expired: nothing changes
		}
		var rotatedAt time.Time
		if ns := old.rotatedAt.Load(); ns != 0 {
			rotatedAt = time.Unix(0, ns)
		}
		if backendkit.ReuseWithinInterval(rotatedAt, s.reuse, now) {
			return backendkit.ReuseError(cur.ClientID, false)
		}
		revokeIndexed(&s.shards[grantShard(old.gh)], old.gh, cur.GrantID, false)
		return backendkit.ReuseError(cur.ClientID, true)
	}
	if err := backendkit.Successor(&cur, &rec.tok); err != nil {
		return err
	}
	rec.gh = old.gh // Successor gave rec old's grant ID
	if err := s.insertToken(rec); err != nil {
		return fmt.Errorf("rotate token of client %q: %w", cur.ClientID, err)
	}
	old.rotatedAt.Store(now.UnixNano())
	old.revoked.Store(true)
	return nil
}

// RevokeGrant implements [storage.Storage]: it revokes the tokens and marks
// used the codes its grant index lists, under the grant shard's read lock.
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	const op = "memstore: revoke grant"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	if !s.revokeGrantTokens(grantID, true) {
		return fmt.Errorf("%s %q: %w", op, grantID, storage.ErrNotFound)
	}
	return nil
}

// PurgeExpired implements [storage.Storage]. It visits every stored code and
// token.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "memstore: purge expired"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return 0, err
	}
	now := s.now()
	unlock := s.lockAll()
	defer unlock()
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		for k, c := range sh.codes {
			if c.code.IsExpiredAt(now) {
				delete(sh.codes, k)
				s.unindexCode(c)
				n++
			}
		}
		for k, t := range sh.access {
			if backendkit.PurgeAt(&t.tok).Before(now) {
				delete(sh.access, k)
				s.unindexToken(t)
				n++
			}
		}
		for k, t := range sh.refresh {
			if backendkit.PurgeAt(&t.tok).Before(now) {
				delete(sh.refresh, k)
			}
		}
	}
	return n, nil
}
