package backendkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Secrets is what a store keeps of a client's secrets: the hash of the
// current one (empty for a public client) and, after a rotation, the hash
// of the previous one and the instant until which it still authenticates.
type Secrets struct {
	Hash          string
	PreviousHash  string
	PreviousUntil time.Time
}

// PreviousValid reports whether the previous secret still authenticates at
// now (the end instant included).
func (s Secrets) PreviousValid(now time.Time) bool {
	return s.PreviousHash != "" && !s.PreviousUntil.IsZero() && !now.After(s.PreviousUntil)
}

// ClientAuth hashes client secrets with a store's hasher and verifies them,
// the same way in every backend. Create one per store with
// [NewClientAuth]; it is safe for concurrent use.
//
// Verification takes the time of a slow hash whether or not the client
// exists and whether or not it has a secret: for an unknown or public
// client it verifies against a fixed dummy hash, so that the time of a
// failed authentication does not tell which clients exist.
type ClientAuth struct {
	hasher secret.Hasher
	once   sync.Once
	dummy  string
}

// NewClientAuth returns a ClientAuth for hasher.
func NewClientAuth(hasher secret.Hasher) *ClientAuth { return &ClientAuth{hasher: hasher} }

// Hasher returns the hasher.
func (a *ClientAuth) Hasher() secret.Hasher { return a.hasher }

// Hash hashes a client's secret for storage. op and clientID name the
// operation in the error, which never contains the secret.
func (a *ClientAuth) Hash(op, clientID, secretValue string) (string, error) {
	h, err := a.hasher.Hash(secretValue)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", op, clientID, err)
	}
	return h, nil
}

// dummyHash is the hash unknown and public clients are verified against: a
// hash of a random value no one knows, made once with the store's hasher,
// so it costs what a real verification costs.
func (a *ClientAuth) dummyHash() string {
	a.once.Do(func() {
		h, err := a.hasher.Hash(NewGrantID() + NewGrantID())
		if err == nil {
			a.dummy = h
		}
	})
	return a.dummy
}

// Verify decides [storage.ClientStore.AuthenticateClient] for the client
// clientID, found or not, whose secrets are s, at now: nil if secretValue
// matches the current secret or a previous one still valid;
// [storage.ErrNotFound] for an unknown client; [storage.ErrInvalidSecret]
// for a wrong or empty secret or a public client. Every outcome but a
// match on the current secret costs at least one slow hash.
func (a *ClientAuth) Verify(op, clientID string, found bool, s Secrets, secretValue string, now time.Time) error {
	if !found || s.Hash == "" || secretValue == "" {
		_ = a.hasher.Verify(a.dummyHash(), secretValue) // the time of a real check; the dummy matches no one's secret
		if !found {
			return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
		}
		return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrInvalidSecret)
	}
	if a.hasher.Verify(s.Hash, secretValue) {
		return nil
	}
	if s.PreviousValid(now) && a.hasher.Verify(s.PreviousHash, secretValue) {
		return nil
	}
	return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrInvalidSecret)
}

// HashNewSecret does for [storage.ClientManager.RotateClientSecret] what
// every backend must do before it looks the client up: it returns ctx's
// error if ctx is done, validates newSecret ([CheckNewSecret]), hashes it,
// and checks ctx again, so that a call cancelled during the slow hash
// writes nothing. op names the operation in errors, which never contain
// the secret.
func (a *ClientAuth) HashNewSecret(ctx context.Context, op, clientID, newSecret string) (string, error) {
	if err := CtxErr(ctx, op); err != nil {
		return "", err
	}
	if err := CheckNewSecret(clientID, newSecret); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	h, err := a.Hash(op, clientID, newSecret)
	if err != nil {
		return "", err
	}
	if err := CtxErr(ctx, op); err != nil {
		return "", err
	}
	return h, nil
}
