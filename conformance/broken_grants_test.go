package conformance_test

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Broken wrappers of memstore for the grant rules.

// nonAtomicRotate checks, yields, then revokes and creates: concurrent
// callers all pass the check and each stores a pair.
type nonAtomicRotate struct{ storage.Storage }

func (s nonAtomicRotate) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	old, err := s.GetTokenByRefresh(ctx, refresh)
	if err != nil {
		if errors.Is(err, storage.ErrRevoked) {
			return s.Storage.RotateToken(ctx, refresh, next) // reuse detection as memstore does it
		}
		return err
	}
	n, err := backendkit.NormalizeSuccessor(next)
	if err != nil {
		return err
	}
	if err := backendkit.Successor(old, &n); err != nil {
		return err
	}
	for range 20 {
		runtime.Gosched()
	}
	if err := s.RevokeToken(ctx, refresh); err != nil {
		return err
	}
	return s.CreateToken(ctx, &n)
}

// reuseRevokesNothing refuses a revoked refresh token without revoking
// its grant.
type reuseRevokesNothing struct{ storage.Storage }

func (s reuseRevokesNothing) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	if _, err := s.GetTokenByRefresh(ctx, refresh); errors.Is(err, storage.ErrRevoked) {
		return err
	}
	return s.Storage.RotateToken(ctx, refresh, next)
}

// replayRevokesNothing refuses a used code without revoking its grant.
type replayRevokesNothing struct{ storage.Storage }

func (s replayRevokesNothing) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	if _, err := s.GetAuthorizationCode(ctx, code); errors.Is(err, storage.ErrAlreadyUsed) {
		return nil, err
	}
	return s.Storage.ConsumeAuthorizationCode(ctx, code)
}

// getCodeRevokes revokes the grant on a read of a used code, as if reads
// were replays.
type getCodeRevokes struct{ storage.Storage }

func (s getCodeRevokes) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.Storage.GetAuthorizationCode(ctx, code)
	if errors.Is(err, storage.ErrAlreadyUsed) {
		_, _ = s.Storage.ConsumeAuthorizationCode(ctx, code)
	}
	return c, err
}

// grantNotInherited rotates, one call at a time, into a new grant instead
// of the old pair's.
type grantNotInherited struct {
	storage.Storage
	mu sync.Mutex
}

func (s *grantNotInherited) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.GetTokenByRefresh(ctx, refresh); err != nil || next == nil || next.GrantID != "" {
		return s.Storage.RotateToken(ctx, refresh, next)
	}
	if err := s.RevokeToken(ctx, refresh); err != nil {
		return err
	}
	n := *next
	n.GrantID = backendkit.NewGrantID()
	return s.CreateToken(ctx, &n)
}

// grantIDNotAssigned reads back every record without the GrantID it was
// given, as a store that does not persist it would.
type grantIDNotAssigned struct{ storage.Storage }

func (s grantIDNotAssigned) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	c, err := s.Storage.GetAuthorizationCode(ctx, code)
	if c != nil {
		c.GrantID = ""
	}
	return c, err
}

func (s grantIDNotAssigned) GetTokenByAccess(ctx context.Context, token string) (*models.Token, error) {
	t, err := s.Storage.GetTokenByAccess(ctx, token)
	if t != nil {
		t.GrantID = ""
	}
	return t, err
}

// revokeGrantKeepsCodes revokes a grant's tokens but leaves its unused
// codes exchangeable.
type revokeGrantKeepsCodes struct {
	storage.Storage
	mu    sync.Mutex
	codes map[string][]string // grant ID -> codes created in it
}

func (s *revokeGrantKeepsCodes) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Storage.CreateAuthorizationCode(ctx, c)
	if err == nil && c.GrantID != "" {
		s.mu.Lock()
		s.codes[c.GrantID] = append(s.codes[c.GrantID], c.Code)
		s.mu.Unlock()
	}
	return err
}

func (s *revokeGrantKeepsCodes) RevokeGrant(ctx context.Context, grantID string) error {
	s.mu.Lock()
	codes := s.codes[grantID]
	delete(s.codes, grantID)
	s.mu.Unlock()
	// Move the unused codes out of the grant's reach, then revoke it, then
	// put them back.
	var saved []*models.AuthorizationCode
	for _, code := range codes {
		if c, err := s.GetAuthorizationCode(ctx, code); err == nil {
			_ = s.DeleteAuthorizationCode(ctx, code)
			saved = append(saved, c)
		}
	}
	err := s.Storage.RevokeGrant(ctx, grantID)
	for _, c := range saved {
		_ = s.Storage.CreateAuthorizationCode(ctx, c)
	}
	return err
}
