package conformance_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Broken wrappers of memstore for the client management rules. They
// embed *memstore.Store so that they keep implementing
// storage.ClientManager.

// updateDropsSecrets updates a client by deleting and creating it again:
// its secrets are lost.
type updateDropsSecrets struct{ *memstore.Store }

func (s updateDropsSecrets) UpdateClient(ctx context.Context, c *models.Client) error {
	n, err := backendkit.NormalizeUpdate(c)
	if err != nil {
		return err
	}
	if _, err := s.GetClient(ctx, n.ClientID); err != nil {
		return err
	}
	_ = s.DeleteClient(ctx, n.ClientID)
	return s.CreateClient(ctx, &n)
}

// rotationWithoutOverlap ignores the overlap it is asked for.
type rotationWithoutOverlap struct{ *memstore.Store }

func (s rotationWithoutOverlap) RotateClientSecret(ctx context.Context, id, secretValue string, _ time.Time) error {
	return s.Store.RotateClientSecret(ctx, id, secretValue, time.Time{})
}

// previousSecretForever keeps accepting replaced secrets.
type previousSecretForever struct {
	*memstore.Store
	mu       sync.Mutex
	replaced map[string][]string // client ID -> replaced secrets
	current  map[string]string
}

func (s *previousSecretForever) CreateClient(ctx context.Context, c *models.Client) error {
	err := s.Store.CreateClient(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.current[c.ClientID] = c.ClientSecret
		s.mu.Unlock()
	}
	return err
}

func (s *previousSecretForever) RotateClientSecret(ctx context.Context, id, secretValue string, until time.Time) error {
	err := s.Store.RotateClientSecret(ctx, id, secretValue, until)
	if err == nil {
		s.mu.Lock()
		s.replaced[id] = append(s.replaced[id], s.current[id])
		s.current[id] = secretValue
		s.mu.Unlock()
	}
	return err
}

func (s *previousSecretForever) AuthenticateClient(ctx context.Context, id, secretValue string) (*models.Client, error) {
	c, err := s.Store.AuthenticateClient(ctx, id, secretValue)
	s.mu.Lock()
	old := slices.Contains(s.replaced[id], secretValue) && secretValue != ""
	s.mu.Unlock()
	if errors.Is(err, storage.ErrInvalidSecret) && old {
		return s.GetClient(ctx, id)
	}
	return c, err
}

// listCaseFolded orders clients case-insensitively, as a database with a
// locale-aware collation does.
type listCaseFolded struct{ *memstore.Store }

func (s listCaseFolded) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	all, err := s.Store.ListClients(ctx, storage.ClientQuery{Limit: storage.MaxListLimit, UserID: q.UserID})
	if err != nil {
		return storage.ClientPage{}, err
	}
	fold := func(a, b *models.Client) int {
		return strings.Compare(strings.ToLower(a.ClientID), strings.ToLower(b.ClientID))
	}
	slices.SortStableFunc(all.Clients, fold)
	limit, err := backendkit.ListLimit(q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	var page storage.ClientPage
	for _, c := range all.Clients {
		if q.After != "" && strings.ToLower(c.ClientID) <= strings.ToLower(q.After) {
			continue
		}
		if len(page.Clients) == limit {
			page.Next = page.Clients[limit-1].ClientID
			break
		}
		page.Clients = append(page.Clients, c)
	}
	return page, nil
}

// listByOffset pages by position in a list read afresh for every page, as
// OFFSET pagination does: an insert before the cursor shifts the pages.
type listByOffset struct {
	*memstore.Store
	mu     sync.Mutex
	offset map[string]int // Next cursor -> position it stands for
}

func (s *listByOffset) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	all, err := s.Store.ListClients(ctx, storage.ClientQuery{Limit: storage.MaxListLimit, UserID: q.UserID})
	if err != nil {
		return storage.ClientPage{}, err
	}
	limit, err := backendkit.ListLimit(q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.offset[q.After]
	end := min(start+limit, len(all.Clients))
	page := storage.ClientPage{Clients: all.Clients[start:end]}
	if end < len(all.Clients) {
		page.Next = page.Clients[len(page.Clients)-1].ClientID
		s.offset[page.Next] = end
	}
	return page, nil
}

// revokeClientKeepsCodes revokes a client's tokens but leaves its unused
// codes exchangeable.
type revokeClientKeepsCodes struct {
	*memstore.Store
	mu    sync.Mutex
	codes map[string][]*models.AuthorizationCode
}

func (s *revokeClientKeepsCodes) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := s.Store.CreateAuthorizationCode(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.codes[c.ClientID] = append(s.codes[c.ClientID], c)
		s.mu.Unlock()
	}
	return err
}

func (s *revokeClientKeepsCodes) RevokeClientTokens(ctx context.Context, id string) error {
	s.mu.Lock()
	codes := s.codes[id]
	s.mu.Unlock()
	var keep []*models.AuthorizationCode
	for _, c := range codes {
		if _, err := s.GetAuthorizationCode(ctx, c.Code); err == nil {
			_ = s.DeleteAuthorizationCode(ctx, c.Code)
			keep = append(keep, c)
		}
	}
	err := s.Store.RevokeClientTokens(ctx, id)
	for _, c := range keep {
		_ = s.Store.CreateAuthorizationCode(ctx, c)
	}
	return err
}

// statsMiscount counts revoked token pairs as live.
type statsMiscount struct{ *memstore.Store }

func (s statsMiscount) Stats(ctx context.Context) (*storage.Stats, error) {
	st, err := s.Store.Stats(ctx)
	if err == nil {
		st.Total.LiveTokens += st.Total.RevokedTokens
		st.Total.RevokedTokens = 0
	}
	return st, err
}

// listAnyCursor takes any cursor as a position in bytewise order, as a
// store whose database binds any bytes does, instead of refusing one no
// client ID could equal.
type listAnyCursor struct{ *memstore.Store }

func (s listAnyCursor) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	if q.After == "" || backendkit.LookupID(q.After) {
		return s.Store.ListClients(ctx, q)
	}
	limit, err := backendkit.ListLimit(q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	all, err := s.Store.ListClients(ctx, storage.ClientQuery{Limit: storage.MaxListLimit, UserID: q.UserID})
	if err != nil {
		return storage.ClientPage{}, err
	}
	var page storage.ClientPage
	for _, c := range all.Clients {
		if c.ClientID <= q.After {
			continue
		}
		if len(page.Clients) == limit {
			page.Next = page.Clients[limit-1].ClientID
			break
		}
		page.Clients = append(page.Clients, c)
	}
	return page, nil
}
