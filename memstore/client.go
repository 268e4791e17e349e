package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateClient implements [storage.ClientStore].
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "memstore: create client"
	rec, err := backendkit.StartCreateClient(ctx, op, c)
	if err != nil {
		return err
	}
	s.clientsMu.RLock()
	_, taken := s.clients[rec.ClientID]
	s.clientsMu.RUnlock()
	if taken {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	secrets, err := s.auth.SecretsOf(ctx, op, &rec)
	if err != nil {
		return err
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if _, taken := s.clients[rec.ClientID]; taken {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	s.clients[rec.ClientID] = &clientRec{client: rec, secrets: secrets}
	i, _ := slices.BinarySearch(s.ids, rec.ClientID)
	s.ids = slices.Insert(s.ids, i, rec.ClientID)
	return nil
}

// read returns a copy of the client as stores return it, at now; the
// caller holds clientsMu.
func (r *clientRec) read(now time.Time) *models.Client {
	c := r.client.Clone()
	c.SecretHash = r.secrets.Hash
	c.PreviousSecretValidUntil = time.Time{}
	if r.secrets.PreviousValid(now) {
		c.PreviousSecretValidUntil = r.secrets.PreviousUntil
	}
	return c
}

func (s *Store) getClient(clientID string, now time.Time) (*models.Client, backendkit.Secrets, bool) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	rec, ok := s.clients[clientID]
	if !ok {
		return nil, backendkit.Secrets{}, false
	}
	return rec.read(now), rec.secrets, true
}

// GetClient implements [storage.ClientStore].
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	const op = "memstore: get client"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	c, _, ok := s.getClient(clientID, s.now())
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return c, nil
}

// AuthenticateClient implements [storage.ClientStore]. An unknown or public
// client costs a slow hash too ([backendkit.ClientAuth]).
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	return s.auth.Authenticate(ctx, "memstore: authenticate client", clientID, clientSecret, s.now,
		func(now time.Time) (*models.Client, backendkit.Secrets, bool, error) {
			c, secrets, ok := s.getClient(clientID, now)
			return c, secrets, ok, nil
		})
}

// DeleteClient implements [storage.ClientStore]. It visits every stored code
// and token: deleting clients is rare, lookups stay constant-time.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "memstore: delete client"
	if err := backendkit.CtxErr(ctx, op); err != nil {
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
				s.unindexCode(c)
			}
		}
		for k, t := range sh.access {
			if t.tok.ClientID == clientID {
				delete(sh.access, k)
				s.unindexToken(t)
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
	if i, found := slices.BinarySearch(s.ids, clientID); found {
		s.ids = slices.Delete(s.ids, i, i+1)
	}
	return nil
}

// UpdateClient implements [storage.ClientManager].
func (s *Store) UpdateClient(ctx context.Context, c *models.Client) error {
	const op = "memstore: update client"
	rec, err := backendkit.StartUpdateClient(ctx, op, c)
	if err != nil {
		return err
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	old, ok := s.clients[rec.ClientID]
	if !ok {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrNotFound)
	}
	s.clients[rec.ClientID] = &clientRec{client: rec, secrets: old.secrets}
	return nil
}

// RotateClientSecret implements [storage.ClientManager]. The new secret is
// hashed before the client is looked up.
func (s *Store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	const op = "memstore: rotate client secret"
	h, err := s.auth.HashNewSecret(ctx, op, clientID, newSecret)
	if err != nil {
		return err
	}
	return s.setSecrets(op, clientID, func(old backendkit.Secrets) backendkit.Secrets {
		return backendkit.RotateSecrets(old, h, previousValidUntil)
	})
}

// setSecrets replaces the secrets of the client clientID by next of its
// current ones, under clientsMu.
func (s *Store) setSecrets(op, clientID string, next func(backendkit.Secrets) backendkit.Secrets) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	rec, ok := s.clients[clientID]
	if !ok {
		return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	changed := *rec
	changed.secrets = next(rec.secrets)
	s.clients[clientID] = &changed
	return nil
}

// RemoveClientSecrets implements [storage.ClientManager].
func (s *Store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	const op = "memstore: remove client secrets"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	return s.setSecrets(op, clientID, func(backendkit.Secrets) backendkit.Secrets { return backendkit.Secrets{} })
}

// ListClients implements [storage.ClientManager] on the sorted client IDs.
// With a UserID filter it visits the clients after q.After until the page
// is full.
func (s *Store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	const op = "memstore: list clients"
	limit, err := backendkit.StartList(ctx, op, q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	now := s.now()
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	i, found := slices.BinarySearch(s.ids, q.After)
	if found {
		i++
	}
	var page storage.ClientPage
	for ; i < len(s.ids); i++ {
		rec := s.clients[s.ids[i]]
		if q.UserID != "" && rec.client.UserID != q.UserID {
			continue
		}
		if len(page.Clients) == limit {
			page.Next = page.Clients[limit-1].ClientID
			break
		}
		page.Clients = append(page.Clients, rec.read(now))
	}
	return page, nil
}

// RevokeClientTokens implements [storage.ClientManager]. It visits every
// stored code and token, as DeleteClient does.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string) error {
	const op = "memstore: revoke client tokens"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	s.clientsMu.RLock()
	_, found := s.clients[clientID]
	s.clientsMu.RUnlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, c := range sh.codes {
			if c.code.ClientID == clientID {
				c.used.Store(true)
				found = true
			}
		}
		for _, t := range sh.access {
			if t.tok.ClientID == clientID {
				t.revoked.Store(true)
				found = true
			}
		}
		sh.mu.RUnlock()
	}
	if !found {
		return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return nil
}

// Stats implements [storage.StatsReporter]. It visits every record.
func (s *Store) Stats(ctx context.Context) (*storage.Stats, error) {
	const op = "memstore: stats"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	s.clientsMu.RLock()
	clients := int64(len(s.clients))
	s.clientsMu.RUnlock()
	var tally backendkit.Tally
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, c := range sh.codes {
			backendkit.CountCode(tally.Of(c.code.ClientID), &c.code, c.used.Load(), now)
		}
		for _, t := range sh.access {
			tok := t.tok
			tok.Revoked = t.revoked.Load()
			backendkit.CountToken(tally.Of(tok.ClientID), &tok, now)
		}
		sh.mu.RUnlock()
	}
	return tally.Stats(clients), nil
}
