package conformance_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// The stores that break the rules of keyed digests and of the minimum
// credential length, and their controls.
func init() {
	variants = append(variants,
		variant{
			name: "control/keyed",
			keyed: func(clock func() time.Time, keys *secret.Keyed) storage.Storage {
				d := newDumper(keyedMem(clock, keys), false)
				d.digest = keys.Digest
				return d
			},
			wantPass: []string{"Code/ConsumeConcurrent", "Secrets/RawDump", "KeyRotation/OlderKeyStillFound",
				"KeyRotation/WritesUseCurrentKey", "KeyRotation/ConcurrentAcrossRotation"},
		},
		variant{
			// Given keys, the store keeps digesting with plain SHA-256.
			name: "keys-ignored",
			keyed: func(clock func() time.Time, keys *secret.Keyed) storage.Storage {
				return newDumper(mem(clock), false)
			},
			wantFail: []string{"Secrets/RawDump", "KeyRotation/WritesUseCurrentKey"},
		},
		variant{
			// Lookups try the current key only: records written under an
			// older key are lost at each rotation.
			name: "keys-current-only",
			keyed: func(clock func() time.Time, keys *secret.Keyed) storage.Storage {
				return &currentKeyOnly{Storage: keyedMem(clock, keys), keys: keys, written: map[string]string{}}
			},
			wantFail: []string{"KeyRotation/OlderKeyStillFound", "KeyRotation/ConcurrentAcrossRotation"},
		},
		variant{
			name: "control/min-length",
			minLen: func(clock func() time.Time, n int) storage.Storage {
				return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()), memstore.WithMinCredentialLength(n))
			},
			wantPass: []string{"Code", "Token", "Rotate"},
		},
		variant{
			name:     "min-length-ignored",
			minLen:   func(clock func() time.Time, n int) storage.Storage { return mem(clock) },
			wantFail: []string{"Code", "Token", "Rotate"},
		},
		variant{
			// The access token is checked, the refresh token is not.
			name: "min-length-access-only",
			minLen: func(clock func() time.Time, n int) storage.Storage {
				return accessLenOnly{mem(clock), n}
			},
			wantFail: []string{"Token", "Rotate"},
		},
	)
}

func keyedMem(clock func() time.Time, keys *secret.Keyed) *memstore.Store {
	return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()), memstore.WithDigestKeys(keys))
}

// currentKeyOnly answers ErrNotFound for a credential written under a key
// that is no longer current, as a store that looks up under the current
// key alone would.
type currentKeyOnly struct {
	storage.Storage
	keys    *secret.Keyed
	mu      sync.Mutex
	written map[string]string // credential -> its digest when written
}

func (s *currentKeyOnly) wrote(vs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vs {
		if v != "" {
			s.written[v] = s.keys.Digest(v)
		}
	}
}

func (s *currentKeyOnly) lost(v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.written[v]; ok && d != s.keys.Digest(v) {
		return fmt.Errorf("current key only: %w", storage.ErrNotFound)
	}
	return nil
}

func (s *currentKeyOnly) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Storage.CreateAuthorizationCode(ctx, c)
	if err == nil {
		s.wrote(c.Code)
	}
	return err
}

func (s *currentKeyOnly) CreateToken(ctx context.Context, t *models.Token) error {
	err := s.Storage.CreateToken(ctx, t)
	if err == nil {
		s.wrote(t.AccessToken, t.RefreshToken)
	}
	return err
}

func (s *currentKeyOnly) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	if err := s.lost(code); err != nil {
		return nil, err
	}
	return s.Storage.GetAuthorizationCode(ctx, code)
}

func (s *currentKeyOnly) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	if err := s.lost(code); err != nil {
		return nil, err
	}
	return s.Storage.ConsumeAuthorizationCode(ctx, code)
}

func (s *currentKeyOnly) GetTokenByAccess(ctx context.Context, token string) (*models.Token, error) {
	if err := s.lost(token); err != nil {
		return nil, err
	}
	return s.Storage.GetTokenByAccess(ctx, token)
}

func (s *currentKeyOnly) GetTokenByRefresh(ctx context.Context, token string) (*models.Token, error) {
	if err := s.lost(token); err != nil {
		return nil, err
	}
	return s.Storage.GetTokenByRefresh(ctx, token)
}

func (s *currentKeyOnly) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	if err := s.lost(refresh); err != nil {
		return err
	}
	err := s.Storage.RotateToken(ctx, refresh, next)
	if err == nil {
		s.wrote(next.AccessToken, next.RefreshToken)
	}
	return err
}

// accessLenOnly enforces the minimum length on access tokens and codes,
// not on refresh tokens.
type accessLenOnly struct {
	storage.Storage
	min int
}

func (s accessLenOnly) short(v string) error {
	if len(v) < s.min {
		return fmt.Errorf("access token too short: %w", storage.ErrInvalid)
	}
	return nil
}

func (s accessLenOnly) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	if err := s.short(c.Code); err != nil {
		return err
	}
	return s.Storage.CreateAuthorizationCode(ctx, c)
}

func (s accessLenOnly) CreateToken(ctx context.Context, t *models.Token) error {
	if err := s.short(t.AccessToken); err != nil {
		return err
	}
	return s.Storage.CreateToken(ctx, t)
}

func (s accessLenOnly) RotateToken(ctx context.Context, refresh string, next *models.Token) error {
	if err := s.short(next.AccessToken); err != nil {
		return err
	}
	return s.Storage.RotateToken(ctx, refresh, next)
}
