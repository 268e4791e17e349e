package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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

// Errors of the lookups that miss, built once: a miss is as frequent as a
// hit for a server probing random tokens, and should not allocate.
var (
	errAccessNotFound  = fmt.Errorf("memstore: get token by access token: %w", storage.ErrNotFound)
	errRefreshNotFound = fmt.Errorf("memstore: get token by refresh token: %w", storage.ErrNotFound)
)

type codeRec struct {
	code models.AuthorizationCode // Code is always empty
	used bool                     // guarded by the shard's mu
}

type tokenRec struct {
	tok        models.Token // AccessToken and RefreshToken are always empty
	access     key
	refresh    key
	hasRefresh bool
	revoked    atomic.Bool // read under either credential's shard lock
}

type shard struct {
	mu      sync.RWMutex
	codes   map[key]*codeRec
	access  map[key]*tokenRec
	refresh map[key]*tokenRec
}

type clientRec struct {
	client models.Client // ClientSecret is always empty
}

// Store is an in-memory [storage.Storage]. The zero value is not usable:
// create one with [New]. It is safe for concurrent use.
type Store struct {
	now    func() time.Time
	hasher secret.Hasher

	clientsMu sync.RWMutex
	clients   map[string]*clientRec

	shards [shardCount]shard
}

var _ storage.Storage = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock the store uses for every expiry decision. The
// default is [time.Now].
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithHasher sets the hasher for client secrets. The default is
// [secret.Default].
func WithHasher(h secret.Hasher) Option {
	return func(s *Store) {
		if h != nil {
			s.hasher = h
		}
	}
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, hasher: secret.Default(), clients: make(map[string]*clientRec)}
	for i := range s.shards {
		s.shards[i] = shard{
			codes:   make(map[key]*codeRec),
			access:  make(map[key]*tokenRec),
			refresh: make(map[key]*tokenRec),
		}
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) shardOf(k key) *shard { return &s.shards[k[0]%shardCount] }

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

// CreateClient implements [storage.ClientStore].
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "memstore: create client"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	rec, err := storage.NormalizeClient(c)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.clientsMu.RLock()
	_, taken := s.clients[rec.ClientID]
	s.clientsMu.RUnlock()
	if taken {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	if rec.ClientSecret != "" {
		h, err := s.hasher.Hash(rec.ClientSecret)
		if err != nil {
			return fmt.Errorf("%s %q: %w", op, rec.ClientID, err)
		}
		rec.SecretHash = h
		rec.ClientSecret = ""
	}
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if _, taken := s.clients[rec.ClientID]; taken {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	s.clients[rec.ClientID] = &clientRec{client: rec}
	return nil
}

func (s *Store) getClient(clientID string) (*models.Client, bool) {
	s.clientsMu.RLock()
	rec, ok := s.clients[clientID]
	s.clientsMu.RUnlock()
	if !ok {
		return nil, false
	}
	return rec.client.Clone(), true
}

// GetClient implements [storage.ClientStore].
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	const op = "memstore: get client"
	if err := storage.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	c, ok := s.getClient(clientID)
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return c, nil
}

// AuthenticateClient implements [storage.ClientStore].
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	const op = "memstore: authenticate client"
	if err := storage.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	c, ok := s.getClient(clientID)
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	if c.SecretHash == "" || clientSecret == "" || !s.hasher.Verify(c.SecretHash, clientSecret) {
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrInvalidSecret)
	}
	return c, nil
}

// DeleteClient implements [storage.ClientStore]. It visits every stored code
// and token: deleting clients is rare, lookups stay constant-time.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "memstore: delete client"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	unlock := s.lockAll()
	defer unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		for k, c := range sh.codes {
			if c.code.ClientID == clientID {
				delete(sh.codes, k)
			}
		}
		for k, t := range sh.access {
			if t.tok.ClientID == clientID {
				delete(sh.access, k)
			}
		}
		for k, t := range sh.refresh {
			if t.tok.ClientID == clientID {
				delete(sh.refresh, k)
			}
		}
	}
	if _, ok := s.clients[clientID]; !ok {
		return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	delete(s.clients, clientID)
	return nil
}

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "memstore: create authorization code"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	rec, err := storage.NormalizeAuthorizationCode(c)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	k := digest(rec.Code)
	rec.Code = ""
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, taken := sh.codes[k]; taken {
		return fmt.Errorf("%s for client %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	sh.codes[k] = &codeRec{code: rec}
	return nil
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "memstore: get authorization code"
	if err := storage.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	k := digest(code)
	sh := s.shardOf(k)
	sh.mu.RLock()
	rec, ok := sh.codes[k]
	var out models.AuthorizationCode
	var used bool
	if ok {
		out, used = rec.code, rec.used
	}
	sh.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if err := storage.CheckCode(&out, used, s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.Code = code
	return &out, nil
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore]. The
// check and the mark happen under the shard's write lock, so exactly one
// caller wins.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "memstore: consume authorization code"
	if err := storage.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	k := digest(code)
	now := s.now()
	sh := s.shardOf(k)
	sh.mu.Lock()
	rec, ok := sh.codes[k]
	if !ok {
		sh.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if err := storage.CheckCode(&rec.code, rec.used, now); err != nil {
		sh.mu.Unlock()
		return nil, fmt.Errorf("memstore: %w", err)
	}
	rec.used = true
	out := rec.code
	sh.mu.Unlock()
	out.Code = code
	return &out, nil
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "memstore: delete authorization code"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	k := digest(code)
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.codes[k]; !ok {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	delete(sh.codes, k)
	return nil
}

// CreateToken implements [storage.TokenStore]. When the access and refresh
// digests fall in different shards both are locked, in index order, so the
// two uniqueness checks and the inserts are one atomic step.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "memstore: create token"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	tok, err := storage.NormalizeToken(t)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	rec := &tokenRec{access: digest(tok.AccessToken), hasRefresh: tok.RefreshToken != ""}
	if rec.hasRefresh {
		rec.refresh = digest(tok.RefreshToken)
	}
	tok.AccessToken, tok.RefreshToken = "", ""
	rec.tok = tok

	ai := rec.access[0] % shardCount
	a := &s.shards[ai]
	r := a
	if rec.hasRefresh {
		r = s.shardOf(rec.refresh)
	}
	switch ri := rec.refresh[0] % shardCount; {
	case r == a:
		a.mu.Lock()
		defer a.mu.Unlock()
	case ai < ri:
		a.mu.Lock()
		r.mu.Lock()
		defer a.mu.Unlock()
		defer r.mu.Unlock()
	default:
		r.mu.Lock()
		a.mu.Lock()
		defer r.mu.Unlock()
		defer a.mu.Unlock()
	}
	if _, taken := a.access[rec.access]; taken {
		return fmt.Errorf("%s for client %q: access token: %w", op, tok.ClientID, storage.ErrAlreadyExists)
	}
	if rec.hasRefresh {
		if _, taken := r.refresh[rec.refresh]; taken {
			return fmt.Errorf("%s for client %q: refresh token: %w", op, tok.ClientID, storage.ErrAlreadyExists)
		}
		r.refresh[rec.refresh] = rec
	}
	a.access[rec.access] = rec
	return nil
}

func (s *Store) lookupToken(credential string, byRefresh bool) (*tokenRec, bool) {
	k := digest(credential)
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
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "memstore: get token by access token"
	if err := storage.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	rec, ok := s.lookupToken(accessToken, false)
	if !ok {
		return nil, errAccessNotFound
	}
	out := rec.tok
	out.Revoked = rec.revoked.Load()
	if err := storage.CheckAccess(&out, s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.AccessToken = accessToken
	return &out, nil
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "memstore: get token by refresh token"
	if err := storage.CtxErr(ctx, op); err != nil {
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
	if err := storage.CheckRefresh(&out, s.now()); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	out.RefreshToken = refreshToken
	return &out, nil
}

// RevokeToken implements [storage.TokenStore]. Both credentials of a pair
// share one record, so revoking by either revokes both.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "memstore: revoke token"
	if err := storage.CtxErr(ctx, op); err != nil {
		return err
	}
	rec, ok := s.lookupToken(token, false)
	if !ok && token != "" {
		rec, ok = s.lookupToken(token, true)
	}
	if !ok {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	rec.revoked.Store(true)
	return nil
}

// PurgeExpired implements [storage.Storage]. It visits every stored code and
// token.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "memstore: purge expired"
	if err := storage.CtxErr(ctx, op); err != nil {
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
				n++
			}
		}
		for k, t := range sh.access {
			if storage.PurgeAt(&t.tok).Before(now) {
				delete(sh.access, k)
				n++
			}
		}
		for k, t := range sh.refresh {
			if storage.PurgeAt(&t.tok).Before(now) {
				delete(sh.refresh, k)
			}
		}
	}
	return n, nil
}
