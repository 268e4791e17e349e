package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Broken wrappers of memstore. Each one is free of data races, so that the
// suite fails by its assertions and not by the race detector.

// nonAtomicConsume checks, yields, then marks: concurrent callers all pass
// the check.
type nonAtomicConsume struct{ storage.Storage }

func (s nonAtomicConsume) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.GetAuthorizationCode(ctx, code)
	if err != nil {
		return nil, err
	}
	for range 20 {
		runtime.Gosched()
	}
	if _, err := s.Storage.ConsumeAuthorizationCode(ctx, code); err != nil && !errors.Is(err, storage.ErrAlreadyUsed) {
		return nil, err
	}
	return c, nil
}

// consumeNotMarked returns the code without marking it used.
type consumeNotMarked struct{ storage.Storage }

func (s consumeNotMarked) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	return s.GetAuthorizationCode(ctx, code)
}

// usedReportsExpired checks expiry before use.
type usedReportsExpired struct {
	storage.Storage
	clock  func() time.Time
	mu     sync.Mutex
	expiry map[string]time.Time
}

func (s *usedReportsExpired) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Storage.CreateAuthorizationCode(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.expiry[c.Code] = c.ExpiresAt()
		s.mu.Unlock()
	}
	return err
}

func (s *usedReportsExpired) fix(code string, err error) error {
	s.mu.Lock()
	exp, ok := s.expiry[code]
	s.mu.Unlock()
	if errors.Is(err, storage.ErrAlreadyUsed) && ok && s.clock().After(exp) {
		return storage.ErrExpired
	}
	return err
}

func (s *usedReportsExpired) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.Storage.GetAuthorizationCode(ctx, code)
	return c, s.fix(code, err)
}

func (s *usedReportsExpired) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.Storage.ConsumeAuthorizationCode(ctx, code)
	return c, s.fix(code, err)
}

// untruncated returns the AuthTime it was given, not the stored one.
type untruncated struct {
	storage.Storage
	mu   sync.Mutex
	orig map[string]time.Time
}

func (s *untruncated) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Storage.CreateAuthorizationCode(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.orig[c.Code] = c.AuthTime
		s.mu.Unlock()
	}
	return err
}

func (s *untruncated) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.Storage.GetAuthorizationCode(ctx, code)
	if err == nil {
		s.mu.Lock()
		c.AuthTime = s.orig[code]
		s.mu.Unlock()
	}
	return c, err
}

// tokenExists reports whether token is a stored access or refresh token.
func tokenExists(ctx context.Context, s storage.Storage, token string) bool {
	_, err := s.GetTokenByAccess(ctx, token)
	if !errors.Is(err, storage.ErrNotFound) {
		return true
	}
	_, err = s.GetTokenByRefresh(ctx, token)
	return !errors.Is(err, storage.ErrNotFound)
}

// revokeIgnored says it revoked and did nothing.
type revokeIgnored struct{ storage.Storage }

func (s revokeIgnored) RevokeToken(ctx context.Context, token string) error {
	if !tokenExists(ctx, s.Storage, token) {
		return storage.ErrNotFound
	}
	return nil
}

// revokeOne revokes only the credential it was given.
type revokeOne struct {
	storage.Storage
	mu      sync.Mutex
	revoked map[string]bool
}

func (s *revokeOne) RevokeToken(ctx context.Context, token string) error {
	if !tokenExists(ctx, s.Storage, token) {
		return storage.ErrNotFound
	}
	s.mu.Lock()
	s.revoked[token] = true
	s.mu.Unlock()
	return nil
}

func (s *revokeOne) isRevoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[token]
}

func (s *revokeOne) GetTokenByAccess(ctx context.Context, token string) (*models.Token, error) {
	if s.isRevoked(token) {
		return nil, storage.ErrRevoked
	}
	return s.Storage.GetTokenByAccess(ctx, token)
}

func (s *revokeOne) GetTokenByRefresh(ctx context.Context, token string) (*models.Token, error) {
	if s.isRevoked(token) {
		return nil, storage.ErrRevoked
	}
	return s.Storage.GetTokenByRefresh(ctx, token)
}

// emptyRefreshMatches finds a token without refresh token by the empty
// one, as an SQL store comparing an empty column would.
type emptyRefreshMatches struct {
	storage.Storage
	mu        sync.Mutex
	noRefresh string
}

func (s *emptyRefreshMatches) CreateToken(ctx context.Context, t *models.Token) error {
	err := s.Storage.CreateToken(ctx, t)
	if err == nil && t.RefreshToken == "" {
		s.mu.Lock()
		s.noRefresh = t.AccessToken
		s.mu.Unlock()
	}
	return err
}

func (s *emptyRefreshMatches) GetTokenByRefresh(ctx context.Context, token string) (*models.Token, error) {
	s.mu.Lock()
	access := s.noRefresh
	s.mu.Unlock()
	if token == "" && access != "" {
		t, err := s.Storage.GetTokenByAccess(ctx, access)
		if err == nil {
			t.AccessToken = ""
		}
		return t, err
	}
	return s.Storage.GetTokenByRefresh(ctx, token)
}

// emptyRefreshUnique treats the missing refresh token as a value that must
// be unique, as a unique index over an empty column would.
type emptyRefreshUnique struct {
	storage.Storage
	mu   sync.Mutex
	seen bool
}

func (s *emptyRefreshUnique) CreateToken(ctx context.Context, t *models.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil && t.RefreshToken == "" && s.seen {
		return storage.ErrAlreadyExists
	}
	err := s.Storage.CreateToken(ctx, t)
	if err == nil && t.RefreshToken == "" {
		s.seen = true
	}
	return err
}

// refreshAsAccess looks access tokens up among refresh tokens too.
type refreshAsAccess struct{ storage.Storage }

func (s refreshAsAccess) GetTokenByAccess(ctx context.Context, token string) (*models.Token, error) {
	t, err := s.Storage.GetTokenByAccess(ctx, token)
	if errors.Is(err, storage.ErrNotFound) {
		return s.Storage.GetTokenByRefresh(ctx, token)
	}
	return t, err
}

// halfWrittenToken writes the access token even when the refresh token is
// taken, as two non-transactional inserts would.
type halfWrittenToken struct{ storage.Storage }

func (s halfWrittenToken) CreateToken(ctx context.Context, t *models.Token) error {
	err := s.Storage.CreateToken(ctx, t)
	if errors.Is(err, storage.ErrAlreadyExists) && t.RefreshToken != "" {
		half := *t
		half.RefreshToken, half.RefreshTokenExpiresIn = "", 0
		_ = s.Storage.CreateToken(ctx, &half)
	}
	return err
}

// overwriteClient replaces a client whose ID is taken.
type overwriteClient struct{ storage.Storage }

func (s overwriteClient) CreateClient(ctx context.Context, c *models.Client) error {
	err := s.Storage.CreateClient(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		if err := s.DeleteClient(ctx, c.ClientID); err != nil {
			return err
		}
		return s.Storage.CreateClient(ctx, c)
	}
	return err
}

// secretReturned hands the plaintext secret back on reads.
type secretReturned struct {
	storage.Storage
	mu      sync.Mutex
	secrets map[string]string
}

func (s *secretReturned) CreateClient(ctx context.Context, c *models.Client) error {
	err := s.Storage.CreateClient(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.secrets[c.ClientID] = c.ClientSecret
		s.mu.Unlock()
	}
	return err
}

func (s *secretReturned) withSecret(c *models.Client, err error) (*models.Client, error) {
	if err == nil {
		s.mu.Lock()
		c.ClientSecret = s.secrets[c.ClientID]
		s.mu.Unlock()
	}
	return c, err
}

func (s *secretReturned) GetClient(ctx context.Context, id string) (*models.Client, error) {
	return s.withSecret(s.Storage.GetClient(ctx, id))
}

func (s *secretReturned) AuthenticateClient(ctx context.Context, id, sec string) (*models.Client, error) {
	return s.withSecret(s.Storage.AuthenticateClient(ctx, id, sec))
}

// unsaltedHasher hashes without salt: equal secrets, equal hashes.
type unsaltedHasher struct{}

func (unsaltedHasher) Hash(s string) (string, error) { return secret.Digest("pepper:" + s), nil }
func (unsaltedHasher) Verify(hash, s string) bool    { return hash == secret.Digest("pepper:"+s) }

// truncatingHasher hashes only the first 72 bytes, as bcrypt does unless
// longer secrets are pre-hashed.
type truncatingHasher struct{ secret.Hasher }

func truncate72(s string) string {
	if len(s) > 72 {
		return s[:72]
	}
	return s
}

func (h truncatingHasher) Hash(s string) (string, error) { return h.Hasher.Hash(truncate72(s)) }
func (h truncatingHasher) Verify(hash, s string) bool    { return h.Hasher.Verify(hash, truncate72(s)) }

// aliasedClients returns the same client value on every read, so a caller
// changing it changes what later reads return.
type aliasedClients struct {
	storage.Storage
	mu    sync.Mutex
	cache map[string]*models.Client
}

func (s *aliasedClients) GetClient(ctx context.Context, id string) (*models.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[id]; ok {
		return c, nil
	}
	c, err := s.Storage.GetClient(ctx, id)
	if err == nil {
		s.cache[id] = c
	}
	return c, err
}

// publicAuthenticates lets a public client in with any secret.
type publicAuthenticates struct{ storage.Storage }

func (s publicAuthenticates) AuthenticateClient(ctx context.Context, id, sec string) (*models.Client, error) {
	if c, err := s.GetClient(ctx, id); err == nil && c.IsPublic() {
		return c, nil
	}
	return s.Storage.AuthenticateClient(ctx, id, sec)
}

// foldedIDs compares client IDs case-insensitively, as a database with a
// case-insensitive collation would.
type foldedIDs struct{ storage.Storage }

func (s foldedIDs) CreateClient(ctx context.Context, c *models.Client) error {
	if c == nil {
		return s.Storage.CreateClient(ctx, c)
	}
	folded := *c
	folded.ClientID = strings.ToLower(c.ClientID)
	return s.Storage.CreateClient(ctx, &folded)
}

func (s foldedIDs) GetClient(ctx context.Context, id string) (*models.Client, error) {
	c, err := s.Storage.GetClient(ctx, strings.ToLower(id))
	if err == nil {
		c.ClientID = id
	}
	return c, err
}

func (s foldedIDs) AuthenticateClient(ctx context.Context, id, sec string) (*models.Client, error) {
	c, err := s.Storage.AuthenticateClient(ctx, strings.ToLower(id), sec)
	if err == nil {
		c.ClientID = id
	}
	return c, err
}

func (s foldedIDs) DeleteClient(ctx context.Context, id string) error {
	if err := s.Storage.DeleteClient(ctx, id); !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return s.Storage.DeleteClient(ctx, strings.ToLower(id))
}

// shallowDelete returns early when the client is not stored, leaving its
// codes and tokens usable.
type shallowDelete struct{ storage.Storage }

func (s shallowDelete) DeleteClient(ctx context.Context, id string) error {
	if _, err := s.GetClient(ctx, id); err != nil {
		return err
	}
	return s.Storage.DeleteClient(ctx, id)
}

// secretInErrors quotes the secret it was given in its errors.
type secretInErrors struct{ storage.Storage }

func (s secretInErrors) AuthenticateClient(ctx context.Context, id, sec string) (*models.Client, error) {
	c, err := s.Storage.AuthenticateClient(ctx, id, sec)
	if err != nil {
		return nil, fmt.Errorf("authenticate %q with secret %q: %w", id, sec, err)
	}
	return c, nil
}

// dumper implements conformance.RawDumper by recording what a store keeping
// digests would persist, and, if plaintext, the refresh tokens as given.
type dumper struct {
	storage.Storage
	plaintext bool
	noTokens  bool // leaves the token table out of the dump
	// digest is what the store persists for a credential: secret.Digest
	// if nil.
	digest func(string) string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func newDumper(s storage.Storage, plaintext bool) *dumper {
	return &dumper{Storage: s, plaintext: plaintext}
}

func (s *dumper) digestOf(v string) string {
	if s.digest != nil {
		return s.digest(v)
	}
	return secret.Digest(v)
}

func (s *dumper) record(format string, args ...any) {
	s.mu.Lock()
	fmt.Fprintf(&s.buf, format+"\n", args...)
	s.mu.Unlock()
}

func (s *dumper) CreateClient(ctx context.Context, c *models.Client) error {
	err := s.Storage.CreateClient(ctx, c)
	if err == nil {
		stored, err := s.GetClient(ctx, c.ClientID)
		if err != nil {
			return err
		}
		s.record("client %s %s %q %q", stored.ClientID, stored.SecretHash, stored.Scope, stored.RedirectURIs)
	}
	return err
}

func (s *dumper) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Storage.CreateAuthorizationCode(ctx, c)
	if err == nil {
		s.record("code %s %s %s", s.digestOf(c.Code), c.ClientID, c.AuthTime)
	}
	return err
}

func (s *dumper) CreateToken(ctx context.Context, t *models.Token) error {
	err := s.Storage.CreateToken(ctx, t)
	if err == nil {
		switch {
		case s.noTokens:
		case s.plaintext: // a plaintext column beside the digest
			s.record("token %s %s %s %s", s.digestOf(t.AccessToken), s.digestOf(t.RefreshToken), t.RefreshToken, t.ClientID)
		default:
			s.record("token %s %s %s", s.digestOf(t.AccessToken), s.digestOf(t.RefreshToken), t.ClientID)
		}
	}
	return err
}

func (s *dumper) DumpRaw(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes()), nil
}

// emptyDump implements conformance.RawDumper without dumping anything.
type emptyDump struct{ storage.Storage }

func (emptyDump) DumpRaw(context.Context) ([]byte, error) { return nil, nil }

// purgeMiscounts reports one record fewer when it deletes several.
type purgeMiscounts struct{ storage.Storage }

func (s purgeMiscounts) PurgeExpired(ctx context.Context) (int64, error) {
	n, err := s.Storage.PurgeExpired(ctx)
	if n > 1 {
		n--
	}
	return n, err
}

// purgeByAccess also purges tokens whose access token expired, though
// their refresh token is live.
type purgeByAccess struct {
	storage.Storage
	clock   func() time.Time
	mu      sync.Mutex
	tokens  []models.Token
	deleted map[string]bool
}

func (s *purgeByAccess) CreateToken(ctx context.Context, t *models.Token) error {
	err := s.Storage.CreateToken(ctx, t)
	if err == nil && t.RefreshToken != "" {
		s.mu.Lock()
		s.tokens = append(s.tokens, *t)
		s.mu.Unlock()
	}
	return err
}

func (s *purgeByAccess) PurgeExpired(ctx context.Context) (int64, error) {
	n, err := s.Storage.PurgeExpired(ctx)
	if err != nil {
		return n, err
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if !s.deleted[t.AccessToken] && t.IsExpiredAt(now) && !t.RefreshTokenExpiredAt(now) {
			s.deleted[t.AccessToken], s.deleted[t.RefreshToken] = true, true
			n++
		}
	}
	return n, nil
}

func (s *purgeByAccess) gone(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[token]
}

func (s *purgeByAccess) GetTokenByAccess(ctx context.Context, token string) (*models.Token, error) {
	if s.gone(token) {
		return nil, storage.ErrNotFound
	}
	return s.Storage.GetTokenByAccess(ctx, token)
}

func (s *purgeByAccess) GetTokenByRefresh(ctx context.Context, token string) (*models.Token, error) {
	if s.gone(token) {
		return nil, storage.ErrNotFound
	}
	return s.Storage.GetTokenByRefresh(ctx, token)
}

// ctxIgnored never looks at the caller's context.
type ctxIgnored struct{ storage.Storage }

var bg = context.Background()

func (s ctxIgnored) CreateClient(_ context.Context, c *models.Client) error {
	return s.Storage.CreateClient(bg, c)
}
func (s ctxIgnored) GetClient(_ context.Context, id string) (*models.Client, error) {
	return s.Storage.GetClient(bg, id)
}
func (s ctxIgnored) AuthenticateClient(_ context.Context, id, sec string) (*models.Client, error) {
	return s.Storage.AuthenticateClient(bg, id, sec)
}
func (s ctxIgnored) DeleteClient(_ context.Context, id string) error {
	return s.Storage.DeleteClient(bg, id)
}
func (s ctxIgnored) CreateAuthorizationCode(_ context.Context, c *models.AuthorizationCode) error {
	return s.Storage.CreateAuthorizationCode(bg, c)
}
func (s ctxIgnored) GetAuthorizationCode(_ context.Context, code string) (*models.AuthorizationCode, error) {
	return s.Storage.GetAuthorizationCode(bg, code)
}
func (s ctxIgnored) ConsumeAuthorizationCode(_ context.Context, code string) (*models.AuthorizationCode, error) {
	return s.Storage.ConsumeAuthorizationCode(bg, code)
}
func (s ctxIgnored) DeleteAuthorizationCode(_ context.Context, code string) error {
	return s.Storage.DeleteAuthorizationCode(bg, code)
}
func (s ctxIgnored) CreateToken(_ context.Context, t *models.Token) error {
	return s.Storage.CreateToken(bg, t)
}
func (s ctxIgnored) GetTokenByAccess(_ context.Context, token string) (*models.Token, error) {
	return s.Storage.GetTokenByAccess(bg, token)
}
func (s ctxIgnored) GetTokenByRefresh(_ context.Context, token string) (*models.Token, error) {
	return s.Storage.GetTokenByRefresh(bg, token)
}
func (s ctxIgnored) RevokeToken(_ context.Context, token string) error {
	return s.Storage.RevokeToken(bg, token)
}
func (s ctxIgnored) PurgeExpired(_ context.Context) (int64, error) {
	return s.Storage.PurgeExpired(bg)
}
