package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/internal/redislua"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// secretAttempts bounds how many times [Store.RotateClientSecret] reads
// the client again because its secrets changed between its read and its
// write.
const secretAttempts = 8

// CreateClient implements [storage.ClientStore]. The client is a hash,
// written with its entries in the clients and owner indexes by one script
// that first checks the ID is free.
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "redisstore: create client"
	rec, err := backendkit.StartCreateClient(ctx, op, c)
	if err != nil {
		return err
	}
	key := s.k.client(rec.ClientID)
	// Spare the slow hash for a taken ID; the script decides.
	n, err := s.rdb.Exists(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, err)
	}
	if n > 0 {
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	secrets, err := s.auth.SecretsOf(ctx, op, &rec)
	if err != nil {
		return err
	}
	keys := []string{key, s.k.clients()}
	if rec.UserID != "" {
		keys = append(keys, s.k.owner(rec.UserID))
	}
	args := append([]any{s.k.p, rec.ClientID}, registrationFields(&rec)...)
	args = append(args, secretFields(secrets)...)
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	created, err := redislua.CreateClient.Run(wctx, s.rdb, keys, args...).Int()
	switch {
	case err != nil:
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, err)
	case created == 0:
		return fmt.Errorf("%s %q: %w", op, rec.ClientID, storage.ErrAlreadyExists)
	}
	return nil
}

// readClient returns the client clientID names as of now, its secrets and
// its stored fields; found is false if there is none.
func (s *Store) readClient(ctx context.Context, clientID string, now time.Time) (c *models.Client, secrets backendkit.Secrets, raw map[string]string, found bool, err error) {
	if !backendkit.LookupID(clientID) {
		return nil, secrets, nil, false, nil
	}
	raw, err = s.rdb.HGetAll(ctx, s.k.client(clientID)).Result()
	if err != nil || len(raw) == 0 {
		return nil, secrets, nil, false, err
	}
	c, secrets, err = decodeClient(clientID, raw, now)
	return c, secrets, raw, err == nil, err
}

// GetClient implements [storage.ClientStore].
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	const op = "redisstore: get client"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	c, _, _, found, err := s.readClient(ctx, clientID, s.now())
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", op, clientID, err)
	case !found && !backendkit.LookupID(clientID):
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case !found:
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return c, nil
}

// AuthenticateClient implements [storage.ClientStore]. An unknown or public
// client costs a slow hash too ([backendkit.ClientAuth]).
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	const op = "redisstore: authenticate client"
	return s.auth.Authenticate(ctx, op, clientID, clientSecret, s.now,
		func(now time.Time) (*models.Client, backendkit.Secrets, bool, error) {
			c, secrets, _, found, err := s.readClient(ctx, clientID, now)
			if err != nil {
				return nil, secrets, false, fmt.Errorf("%s %q: %w", op, clientID, err)
			}
			return c, secrets, found, nil
		})
}

// DeleteClient implements [storage.ClientStore]. One script deletes the
// codes and token pairs its issued index lists, then the client: it is
// atomic, and takes time in proportion to the client's records, during
// which the server runs nothing else.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "redisstore: delete client"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	keys := []string{s.k.client(clientID), s.k.issued(clientID), s.k.clients()}
	found, err := redislua.DeleteClient.Run(wctx, s.rdb, keys, s.k.p, clientID).Int()
	return backendkit.ClientWritten(op, clientID, int64(found), err)
}

// UpdateClient implements [storage.ClientManager]: one script replaces the
// registration fields, leaves the secret fields alone, and moves the client
// between owner indexes if its UserID changes.
func (s *Store) UpdateClient(ctx context.Context, c *models.Client) error {
	const op = "redisstore: update client"
	rec, err := backendkit.StartUpdateClient(ctx, op, c)
	if err != nil {
		return err
	}
	args := append([]any{s.k.p, rec.ClientID, rec.UserID}, registrationFields(&rec)...)
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	found, err := redislua.UpdateClient.Run(wctx, s.rdb, []string{s.k.client(rec.ClientID)}, args...).Int()
	return backendkit.ClientWritten(op, rec.ClientID, int64(found), err)
}

// RotateClientSecret implements [storage.ClientManager]. The new secret is
// hashed before the client is looked up. The client's secrets are read,
// turned into the next ones by [backendkit.RotateSecrets], and written by a
// script only if they are still the ones read (else it reads again), so
// that of two concurrent rotations neither is lost.
func (s *Store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	const op = "redisstore: rotate client secret"
	h, err := s.auth.HashNewSecret(ctx, op, clientID, newSecret)
	if err != nil {
		return err
	}
	for range secretAttempts {
		_, old, raw, found, err := s.readClient(ctx, clientID, s.now())
		if err != nil {
			return fmt.Errorf("%s %q: %w", op, clientID, err)
		}
		if !found {
			return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		next := backendkit.RotateSecrets(old, h, previousValidUntil)
		args := append([]any{s.k.p, raw[fSecretHash], raw[fPrevHash], raw[fPrevUntil]}, secretFields(next)...)
		res, err := s.setSecrets(ctx, clientID, args)
		switch {
		case err != nil:
			return fmt.Errorf("%s %q: %w", op, clientID, err)
		case res == 0:
			return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
		case res == 1:
			return nil
		}
	}
	return fmt.Errorf("%s %q: the secrets changed %d times while they were rotated: %w", op, clientID, secretAttempts, errConcurrent)
}

func (s *Store) setSecrets(ctx context.Context, clientID string, args []any) (int, error) {
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	return redislua.SetSecrets.Run(wctx, s.rdb, []string{s.k.client(clientID)}, args...).Int()
}

// RemoveClientSecrets implements [storage.ClientManager].
func (s *Store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	const op = "redisstore: remove client secrets"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	args := append([]any{s.k.p, "*", "", ""}, secretFields(backendkit.Secrets{})...)
	res, err := s.setSecrets(ctx, clientID, args)
	return backendkit.ClientWritten(op, clientID, int64(res), err)
}

// ListClients implements [storage.ClientManager]: one script reads a page
// from the clients index, or from the owner's index if q.UserID is set
// (sorted sets whose members all score 0, so ordered bytewise), and the
// page's clients.
func (s *Store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	const op = "redisstore: list clients"
	limit, err := backendkit.StartList(ctx, op, q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	index := s.k.clients()
	if q.UserID != "" {
		if !backendkit.LookupID(q.UserID) {
			return storage.ClientPage{}, nil // no client has such an owner
		}
		index = s.k.owner(q.UserID)
	}
	res, err := redislua.ListClients.Run(ctx, s.rdb, []string{index}, s.k.p, q.After, limit+1).Slice()
	if err != nil {
		return storage.ClientPage{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.now()
	var page storage.ClientPage
	for i := 0; i+1 < len(res); i += 2 {
		id, _ := res[i].(string)
		m, err := pairs(res[i+1])
		if err != nil {
			return storage.ClientPage{}, fmt.Errorf("%s: %w", op, err)
		}
		if len(m) == 0 {
			continue // not in the index without its hash; never happens
		}
		if len(page.Clients) == limit {
			page.Next = page.Clients[limit-1].ClientID
			break
		}
		c, _, err := decodeClient(id, m, now)
		if err != nil {
			return storage.ClientPage{}, fmt.Errorf("%s: %w", op, err)
		}
		page.Clients = append(page.Clients, c)
	}
	return page, nil
}

// RevokeClientTokens implements [storage.ClientManager]: one script
// revokes the pairs and marks used the codes that the client's issued
// index lists.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string) error {
	const op = "redisstore: revoke client tokens"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	keys := []string{s.k.client(clientID), s.k.issued(clientID)}
	n, err := redislua.RevokeClientTokens.Run(wctx, s.rdb, keys, s.k.p, clientID).Int()
	return backendkit.ClientWritten(op, clientID, int64(n), err)
}
