package gormstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateClient implements [storage.ClientStore]. The secret is hashed with
// the store's hasher before the single INSERT; a taken client ID is
// reported by the primary key.
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "create client"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeClient(c)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	if n.ClientSecret != "" {
		h, err := s.hasher.Hash(n.ClientSecret)
		if err != nil {
			return fmt.Errorf("gormstore: %s %q: %w", op, n.ClientID, err)
		}
		n.SecretHash = h
	}
	grants, err := encodeList(n.GrantTypes)
	if err != nil {
		return dbError(op, err)
	}
	responses, err := encodeList(n.ResponseTypes)
	if err != nil {
		return dbError(op, err)
	}
	uris, err := encodeList(n.RedirectURIs)
	if err != nil {
		return dbError(op, err)
	}
	// The secret may be a slow hash away from done: check again so that a
	// cancelled call writes nothing.
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	err = exec(ctx, s.data, s.q.insertClient,
		n.ClientID, n.SecretHash, grants, responses, uris, n.Scope, n.UserID, ms(backendkit.Truncate(s.now()))).Error
	switch {
	case err == nil:
		return nil
	case isDuplicate(s.db, err):
		return fmt.Errorf("gormstore: %s %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
	default:
		return dbError(op, err)
	}
}

// GetClient implements [storage.ClientStore] with one primary-key lookup.
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	if err := backendkit.CtxErr(ctx, "gormstore: get client"); err != nil {
		return nil, err
	}
	return s.getClient(ctx, "get client", clientID)
}

func (s *Store) getClient(ctx context.Context, op, clientID string) (*models.Client, error) {
	if !backendkit.LookupID(clientID) {
		// Never stored; PostgreSQL would reject invalid UTF-8 or a NUL.
		return nil, fmt.Errorf("gormstore: %s: %w", op, storage.ErrNotFound)
	}
	row := s.queryRow(ctx, s.q.selectClient, clientID)
	var (
		c                       models.Client
		grants, responses, uris string
	)
	err := row.Scan(&c.ClientID, &c.SecretHash, &grants, &responses, &uris, &c.Scope, &c.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("gormstore: %s %q: %w", op, clientID, storage.ErrNotFound)
	}
	if err != nil {
		return nil, dbError(op, err)
	}
	if c.GrantTypes, err = decodeList[models.GrantType](grants); err != nil {
		return nil, dbError(op, err)
	}
	if c.ResponseTypes, err = decodeList[models.ResponseType](responses); err != nil {
		return nil, dbError(op, err)
	}
	if c.RedirectURIs, err = decodeList[string](uris); err != nil {
		return nil, dbError(op, err)
	}
	return &c, nil
}

// AuthenticateClient implements [storage.ClientStore].
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	const op = "authenticate client"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	c, err := s.getClient(ctx, op, clientID)
	if err != nil {
		return nil, err
	}
	if c.SecretHash == "" || clientSecret == "" || !s.hasher.Verify(c.SecretHash, clientSecret) {
		return nil, fmt.Errorf("gormstore: %s %q: %w", op, clientID, storage.ErrInvalidSecret)
	}
	return c, nil
}

// DeleteClient implements [storage.ClientStore]: in one transaction it
// deletes the client's codes and tokens (by the indexed client_id
// columns), then the client.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "delete client"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return err
	}
	if !backendkit.LookupID(clientID) {
		// No client, code or token was ever stored with such an ID.
		return fmt.Errorf("gormstore: %s: %w", op, storage.ErrNotFound)
	}
	var deleted int64
	// The transaction locks index ranges; under concurrent writes for the
	// same client the database may pick it as a deadlock victim, in which
	// case it rolled back entirely and is simply run again.
	err := retry(ctx, func() error {
		return s.data.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, query := range []string{s.q.deleteClientCodes, s.q.deleteClientTokens} {
				if err := execOn(ctx, tx, query, clientID).Error; err != nil {
					return err
				}
			}
			res := execOn(ctx, tx, s.q.deleteClient, clientID)
			deleted = res.RowsAffected
			return res.Error
		})
	})
	if err != nil {
		return dbError(op, err)
	}
	if deleted == 0 {
		return fmt.Errorf("gormstore: %s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return nil
}

// checkClientID rejects client IDs the client_id columns cannot hold.
func checkClientID(op, clientID string) error {
	if len(clientID) > MaxClientIDLen {
		return fmt.Errorf("gormstore: %s: client ID of %d bytes is longer than %d: %w", op, len(clientID), MaxClientIDLen, storage.ErrInvalid)
	}
	return nil
}

// encodeList stores a list as a JSON array: portable TEXT on every
// database, and never read by SQL.
func encodeList[T ~string](list []T) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// decodeList reads what encodeList wrote; an empty list is nil, as
// [backendkit.NormalizeClient] makes it.
func decodeList[T ~string](s string) ([]T, error) {
	var out []T
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("decoding list column: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
