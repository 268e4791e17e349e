package backendkit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The helpers below take op in the form every backend names its
// operations, "<backend>: <operation>" (say "memstore: create client"),
// and put it in the errors they return, which never contain a secret.

// backendOf returns the backend part of op: validation errors name the
// operation themselves.
func backendOf(op string) string {
	if i := strings.Index(op, ": "); i >= 0 {
		return op[:i]
	}
	return op
}

// StartCreateClient does for [storage.ClientStore.CreateClient] what every
// backend must do before it reads or writes: it returns ctx's error if ctx
// is done, and validates c ([NormalizeClient]).
func StartCreateClient(ctx context.Context, op string, c *models.Client) (models.Client, error) {
	if err := CtxErr(ctx, op); err != nil {
		return models.Client{}, err
	}
	n, err := NormalizeClient(c)
	if err != nil {
		return models.Client{}, fmt.Errorf("%s: %w", backendOf(op), err)
	}
	return n, nil
}

// StartUpdateClient does for [storage.ClientManager.UpdateClient] what
// every backend must do before it writes: it returns ctx's error if ctx is
// done, and validates c ([NormalizeUpdate]).
func StartUpdateClient(ctx context.Context, op string, c *models.Client) (models.Client, error) {
	if err := CtxErr(ctx, op); err != nil {
		return models.Client{}, err
	}
	n, err := NormalizeUpdate(c)
	if err != nil {
		return models.Client{}, fmt.Errorf("%s: %w", backendOf(op), err)
	}
	return n, nil
}

// StartByID does what every backend must do before it looks records up by
// a client ID or a grant ID id ([storage.ClientStore.DeleteClient],
// [storage.ClientManager.RemoveClientSecrets],
// [storage.ClientManager.RevokeClientTokens], [storage.Storage.RevokeGrant]):
// it returns ctx's error if ctx is done, and [storage.ErrNotFound] for an
// ID that could never be stored ([LookupID]), without asking a database
// that may reject such a value with an error of its own.
func StartByID(ctx context.Context, op, id string) error {
	if err := CtxErr(ctx, op); err != nil {
		return err
	}
	if !LookupID(id) {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// ClientWritten returns the outcome of a write to the client clientID that
// failed with err, or else matched matched records (clients, or whatever
// the write counts): err wrapped, [storage.ErrNotFound] if matched is 0,
// nil otherwise. It serves the writes of UpdateClient,
// RotateClientSecret, RemoveClientSecrets and DeleteClient.
func ClientWritten(op, clientID string, matched int64, err error) error {
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, clientID, err)
	}
	if matched == 0 {
		return fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	return nil
}

// SecretsOf does for [storage.ClientStore.CreateClient] what every backend
// does between validating the client n and writing it: it hashes
// n.ClientSecret (a public client has none), clears it from n, and returns
// ctx's error if ctx ended meanwhile, so that a call cancelled during the
// slow hash writes nothing.
func (a *ClientAuth) SecretsOf(ctx context.Context, op string, n *models.Client) (Secrets, error) {
	var s Secrets
	if n.ClientSecret != "" {
		h, err := a.Hash(op, n.ClientID, n.ClientSecret)
		if err != nil {
			return Secrets{}, err
		}
		s.Hash = h
		n.ClientSecret = ""
	}
	if err := CtxErr(ctx, op); err != nil {
		return Secrets{}, err
	}
	return s, nil
}

// ClientReader reads a client for [ClientAuth.Authenticate] as the store
// returns it at now, with its secrets; found is false for an unknown
// client. Its error, returned as it is, ends the call.
type ClientReader func(now time.Time) (c *models.Client, s Secrets, found bool, err error)

// Authenticate is [storage.ClientStore.AuthenticateClient] on a store
// whose clock is clock and whose clients read reads: it returns ctx's
// error if ctx is done, reads the client at the clock's now, and decides
// with [ClientAuth.Verify] at that instant, returning the client read on a
// match.
func (a *ClientAuth) Authenticate(ctx context.Context, op, clientID, secretValue string, clock func() time.Time, read ClientReader) (*models.Client, error) {
	if err := CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := clock()
	c, s, found, err := read(now)
	if err != nil {
		return nil, err
	}
	if err := a.Verify(op, clientID, found, s, secretValue, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Tally collects the per-client counts of [storage.StatsReporter.Stats]:
// add records with [CountCode] and [CountToken] to [Tally.Of] their
// client, then build the answer with [Tally.Stats]. The zero value is
// empty and ready.
type Tally struct {
	byClient map[string]*storage.RecordCounts
}

// Of returns the counts of clientID, created empty on first use.
func (t *Tally) Of(clientID string) *storage.RecordCounts {
	c, ok := t.byClient[clientID]
	if !ok {
		if t.byClient == nil {
			t.byClient = map[string]*storage.RecordCounts{}
		}
		c = new(storage.RecordCounts)
		t.byClient[clientID] = c
	}
	return c
}

// Stats returns the stats of a store of clients clients with the counts
// tallied: ByClient sorted by client ID, Total their sum.
func (t *Tally) Stats(clients int64) *storage.Stats {
	st := &storage.Stats{Clients: clients}
	for id, c := range t.byClient {
		st.ByClient = append(st.ByClient, storage.ClientCounts{ClientID: id, RecordCounts: *c})
		AddCounts(&st.Total, c)
	}
	slices.SortFunc(st.ByClient, func(a, b storage.ClientCounts) int { return strings.Compare(a.ClientID, b.ClientID) })
	return st
}
