package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// UpdateClient implements [storage.ClientManager] with one UPDATE by
// primary key; the secret columns are not touched.
func (s *Store) UpdateClient(ctx context.Context, c *models.Client) error {
	const op = "update client"
	n, err := backendkit.StartUpdateClient(ctx, "gormstore: "+op, c)
	if err != nil {
		return err
	}
	if err := checkClientID(op, n.ClientID); err != nil {
		return err
	}
	grants, responses, uris, err := encodeClientLists(&n)
	if err != nil {
		return dbError(op, err)
	}
	res := exec(ctx, s.data, s.q.updateClient, grants, responses, uris, n.Scope, n.UserID, n.ClientID)
	return s.changedClient(ctx, op, n.ClientID, res)
}

// changedClient returns the outcome of an UPDATE of the client clientID:
// nil if it changed the row, [storage.ErrNotFound] if there is none. MySQL
// reports the rows an UPDATE changed, not those it matched: a row left as
// it was is looked up.
func (s *Store) changedClient(ctx context.Context, op, clientID string, res *gorm.DB) error {
	if res.Error != nil {
		return dbError(op, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := s.queryRow(ctx, s.q.hasClient, clientID).Scan(&n); err != nil {
		return dbError(op, err)
	}
	if n == 0 {
		return fmt.Errorf("gormstore: %s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return nil
}

// RotateClientSecret implements [storage.ClientManager]. The new secret is
// hashed first (an unknown client costs the same time); then one UPDATE
// moves the current hash to the previous-secret columns and stores the new
// one, atomically, so that concurrent rotations and authentications see
// one state or the other. A public client gets no previous secret. The
// hash is bound as a [redacted] value.
func (s *Store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	const op = "rotate client secret"
	h, err := s.auth.HashNewSecret(ctx, "gormstore: "+op, clientID, newSecret)
	if err != nil {
		return err
	}
	if !backendkit.LookupID(clientID) {
		return fmt.Errorf("gormstore: %s: %w", op, storage.ErrNotFound)
	}
	var res *gorm.DB
	if previousValidUntil.IsZero() {
		res = exec(ctx, s.data, s.q.rotateSecretNoPrevious, redacted(h), clientID)
	} else {
		res = exec(ctx, s.data, s.q.rotateSecret, ms(backendkit.Truncate(previousValidUntil)), redacted(h), clientID)
	}
	return s.changedClient(ctx, op, clientID, res)
}

// RemoveClientSecrets implements [storage.ClientManager] with one UPDATE
// that empties the secret columns.
func (s *Store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	const op = "remove client secrets"
	if err := backendkit.StartByID(ctx, "gormstore: "+op, clientID); err != nil {
		return err
	}
	return s.changedClient(ctx, op, clientID, exec(ctx, s.data, s.q.removeSecrets, clientID))
}

// ListClients implements [storage.ClientManager] with one keyset query
// (client_id > After ORDER BY client_id LIMIT Limit+1), served by the
// primary key, or with an owner filter by the (user_id, client_id) index.
// On PostgreSQL client IDs compare with COLLATE "C" (byte for byte, as
// the contract orders them), which indexes of that collation serve.
func (s *Store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	const op = "list clients"
	limit, err := backendkit.StartList(ctx, "gormstore: "+op, q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	if q.UserID != "" && !backendkit.LookupID(q.UserID) {
		return storage.ClientPage{}, nil // no client has such an owner
	}
	now := s.now()
	tx := statement(ctx, s.data, s.q.listClients, []any{q.After, int64(limit + 1)})
	if q.UserID != "" {
		tx = statement(ctx, s.data, s.q.listClientsByUser, []any{q.UserID, q.After, int64(limit + 1)})
	}
	rows, err := tx.Rows()
	if err != nil {
		return storage.ClientPage{}, dbError(op, err)
	}
	defer rows.Close()
	var page storage.ClientPage
	for rows.Next() {
		c, _, err := scanClient(rows, now)
		if err != nil {
			return storage.ClientPage{}, dbError(op, err)
		}
		page.Clients = append(page.Clients, c)
	}
	if err := rows.Err(); err != nil {
		return storage.ClientPage{}, dbError(op, err)
	}
	if len(page.Clients) > limit {
		page.Clients = page.Clients[:limit]
		page.Next = page.Clients[limit-1].ClientID
	}
	return page, nil
}

// RevokeClientTokens implements [storage.ClientManager]: in one
// transaction, an UPDATE by the indexed client_id of codes marks the
// unused ones used and one of tokens revokes the live ones; if neither
// changed a row, one query tells whether any client, code or token of the
// ID is stored.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string) error {
	const op = "revoke client tokens"
	if err := backendkit.StartByID(ctx, "gormstore: "+op, clientID); err != nil {
		return err
	}
	return s.revokeRecords(ctx, op, clientID, s.q.revokeClientCodes, s.q.revokeClientTokens,
		s.q.hasClientRecords, clientID, clientID, clientID)
}

// Stats implements [storage.StatsReporter] with three queries: the number
// of clients, and the codes and tokens grouped by client ID with their
// states summed by CASE at the store clock's now.
func (s *Store) Stats(ctx context.Context) (*storage.Stats, error) {
	const op = "stats"
	if err := backendkit.CtxErr(ctx, "gormstore: "+op); err != nil {
		return nil, err
	}
	at := backendkit.CeilMillis(s.now())
	var clients int64
	if err := statement(ctx, s.data, s.q.countClients, nil).Row().Scan(&clients); err != nil {
		return nil, dbError(op, err)
	}
	var tally backendkit.Tally
	for _, kind := range []struct {
		query string
		cols  func(c *storage.RecordCounts) []any
	}{
		{s.q.statsCodes, func(c *storage.RecordCounts) []any { return []any{&c.LiveCodes, &c.UsedCodes, &c.ExpiredCodes} }},
		{s.q.statsTokens, func(c *storage.RecordCounts) []any { return []any{&c.LiveTokens, &c.RevokedTokens, &c.ExpiredTokens} }},
	} {
		if err := s.scanCounts(ctx, kind.query, at, &tally, kind.cols); err != nil {
			return nil, dbError(op, err)
		}
	}
	return tally.Stats(clients), nil
}

// scanCounts runs one grouped count query at the instant at and adds its
// rows to tally.
func (s *Store) scanCounts(ctx context.Context, query string, at int64, tally *backendkit.Tally, cols func(*storage.RecordCounts) []any) error {
	rows, err := statement(ctx, s.data, query, []any{at, at}).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n [3]int64
		if err := rows.Scan(&id, &n[0], &n[1], &n[2]); err != nil {
			return err
		}
		for i, p := range cols(tally.Of(id)) {
			*p.(*int64) += n[i]
		}
	}
	return rows.Err()
}
