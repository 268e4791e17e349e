package gormstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// CreateClient implements [storage.ClientStore]. The secret is hashed with
// the store's hasher before the single INSERT; a taken client ID is
// reported by the primary key. The hash is bound as a [redacted] value:
// the caller's logger sees "[REDACTED]".
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "create client"
	n, err := backendkit.StartCreateClient(ctx, "gormstore: "+op, c)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	secrets, err := s.auth.SecretsOf(ctx, "gormstore: "+op, &n)
	if err != nil {
		return err
	}
	n.SecretHash = secrets.Hash
	grants, responses, uris, err := encodeClientLists(&n)
	if err != nil {
		return dbError(op, err)
	}
	err = exec(ctx, s.data, s.q.insertClient,
		n.ClientID, redacted(n.SecretHash), grants, responses, uris, n.Scope, n.UserID, ms(backendkit.Truncate(s.now()))).Error
	switch {
	case err == nil:
		return nil
	case isDuplicate(s.db, err):
		return fmt.Errorf("gormstore: %s %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
	default:
		return dbError(op, err)
	}
}

// encodeClientLists encodes the list columns of c.
func encodeClientLists(c *models.Client) (grants, responses, uris string, err error) {
	if grants, err = encodeList(c.GrantTypes); err != nil {
		return "", "", "", err
	}
	if responses, err = encodeList(c.ResponseTypes); err != nil {
		return "", "", "", err
	}
	if uris, err = encodeList(c.RedirectURIs); err != nil {
		return "", "", "", err
	}
	return grants, responses, uris, nil
}

// GetClient implements [storage.ClientStore] with one primary-key lookup.
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	const op = "get client"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	c, _, found, err := s.readClient(ctx, clientID, s.now())
	if err != nil {
		return nil, dbError(op, err)
	}
	if !found {
		return nil, fmt.Errorf("gormstore: %s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return c, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanClient reads a client of the columns clientReadColumns names, as
// stores return it at now, and its secrets.
func scanClient(row rowScanner, now time.Time) (*models.Client, backendkit.Secrets, error) {
	var (
		c                       models.Client
		grants, responses, uris string
		prevHash                sql.NullString
		prevUntil               sql.NullInt64
		secrets                 backendkit.Secrets
	)
	if err := row.Scan(&c.ClientID, &c.SecretHash, &grants, &responses, &uris, &c.Scope, &c.UserID, &prevHash, &prevUntil); err != nil {
		return nil, secrets, err
	}
	var err error
	if c.GrantTypes, err = decodeList[models.GrantType](grants); err != nil {
		return nil, secrets, err
	}
	if c.ResponseTypes, err = decodeList[models.ResponseType](responses); err != nil {
		return nil, secrets, err
	}
	if c.RedirectURIs, err = decodeList[string](uris); err != nil {
		return nil, secrets, err
	}
	secrets.Hash = c.SecretHash
	if prevHash.Valid && prevUntil.Valid {
		secrets.PreviousHash = prevHash.String
		secrets.PreviousUntil = fromMS(prevUntil.Int64)
	}
	if secrets.PreviousValid(now) {
		c.PreviousSecretValidUntil = secrets.PreviousUntil
	}
	return &c, secrets, nil
}

// readClient reads the client clientID in one primary-key lookup; found
// is false if there is none.
func (s *Store) readClient(ctx context.Context, clientID string, now time.Time) (c *models.Client, secrets backendkit.Secrets, found bool, err error) {
	if !backendkit.LookupID(clientID) {
		// Never stored; PostgreSQL would reject invalid UTF-8 or a NUL.
		return nil, secrets, false, nil
	}
	c, secrets, err = scanClient(s.queryRow(ctx, s.q.selectClient, clientID), now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, secrets, false, nil
	}
	if err != nil {
		return nil, secrets, false, err
	}
	return c, secrets, true, nil
}

// AuthenticateClient implements [storage.ClientStore] with
// [backendkit.ClientAuth]: the current secret, or the previous one until
// the end of its overlap, authenticates; an unknown or public client costs
// a slow hash too, so that the time of a failure does not tell which
// clients exist.
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	const op = "authenticate client"
	return s.auth.Authenticate(ctx, "gormstore: "+op, clientID, clientSecret, s.now,
		func(now time.Time) (*models.Client, backendkit.Secrets, bool, error) {
			c, secrets, found, err := s.readClient(ctx, clientID, now)
			if err != nil {
				return nil, secrets, false, dbError(op, err)
			}
			return c, secrets, found, nil
		})
}

// DeleteClient implements [storage.ClientStore]: in one transaction it
// deletes the client's codes and tokens (by the indexed client_id
// columns), then the client. A context that ends before the commit rolls
// everything back and is reported as its error (not database/sql's
// ErrTxDone).
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "delete client"
	// No client, code or token was ever stored with an ID LookupID refuses.
	if err := backendkit.StartByID(ctx, "gormstore: "+op, clientID); err != nil {
		return err
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
			if res.Error == nil && s.testHookDeleteTx != nil {
				s.testHookDeleteTx(ctx)
			}
			return res.Error
		})
	})
	if err != nil {
		return txError(ctx, op, err)
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
