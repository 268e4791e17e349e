package mongostore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

func publicClient(id string) *models.Client {
	return &models.Client{ClientID: id, GrantTypes: []models.GrantType{models.GrantType("client_credentials")}}
}

// listIDs pages through ListClients with limit, calling between after each
// page but the last, and returns the client IDs listed.
func listIDs(t *testing.T, s storage.ClientManager, limit int, between func(after string)) []string {
	t.Helper()
	var ids []string
	q := storage.ClientQuery{Limit: limit}
	for page := 0; ; page++ {
		p, err := s.ListClients(t.Context(), q)
		must(t, err)
		for _, c := range p.Clients {
			ids = append(ids, c.ClientID)
		}
		if p.Next == "" {
			return ids
		}
		if page > 10_000 {
			t.Fatal("ListClients never ended")
		}
		q.After = p.Next
		if between != nil {
			between(q.After)
		}
	}
}

// The conformance case Manage/ListStableUnderInserts with a bounded
// concurrent inserter (see unboundedOnFerretDB): keyset pages list every
// client stored before the listing exactly once, in bytewise order,
// whatever is inserted before or after the cursor meanwhile.
func TestListClientsStableUnderInsertsFerretDB(t *testing.T) {
	db := mongoenv.FerretDB(t)
	s := newStore(t, db, time.Now)
	ctx := t.Context()
	stems := []string{"Alpha", "alpha", "Beta", "beta", "Zulu", "zulu", "élan", "Ézio", "_under", "-dash", "9nine", "日本"}
	var before []string
	for i := range 30 {
		id := fmt.Sprintf("%s-%02d", stems[i%len(stems)], i)
		must(t, s.CreateClient(ctx, publicClient(id)))
		before = append(before, id)
	}
	slices.Sort(before)
	check := func(name string, list []string) {
		t.Helper()
		if !slices.IsSorted(list) {
			t.Errorf("a listing with inserts %s is not in bytewise order: %q", name, list)
		}
		seen := map[string]int{}
		for _, id := range list {
			seen[id]++
		}
		for _, id := range before {
			if seen[id] != 1 {
				t.Errorf("a listing with inserts %s listed client %q %d times, want once", name, id, seen[id])
			}
		}
	}
	n := 0
	check("between pages", listIDs(t, s, 4, func(after string) {
		n++
		for _, id := range []string{after + "-next", fmt.Sprintf("0-first-%d", n), fmt.Sprintf("\U0010FFFF-last-%d", n)} {
			if err := s.CreateClient(ctx, publicClient(id)); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatal(err)
			}
		}
	}))
	// A bounded inserter: two clients next to each client of before, on
	// both sides of the cursor as it moves.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 2 * len(before) {
			if err := s.CreateClient(ctx, publicClient(fmt.Sprintf("%s-concurrent-%d", before[i%len(before)], i))); err != nil {
				t.Errorf("CreateClient during a listing: %v", err)
				return
			}
		}
	})
	got := listIDs(t, s, 3, nil)
	wg.Wait()
	check("concurrently", got)
}

// Concurrent rotations of one client leave it in the state of some
// rotation: a current secret one of them set, at most one previous secret,
// no secret that no caller set.
func TestRotateClientSecretConcurrentFerretDB(t *testing.T) {
	db := mongoenv.FerretDB(t)
	s := newStore(t, db, time.Now)
	ctx := t.Context()
	c := publicClient("rotated")
	c.ClientSecret = "original-secret-value"
	must(t, s.CreateClient(ctx, c))
	news := []string{"new-secret-1", "new-secret-2", "new-secret-3", "new-secret-4"}
	var wg sync.WaitGroup
	for _, sec := range news {
		wg.Go(func() {
			if err := s.RotateClientSecret(ctx, c.ClientID, sec, time.Now().Add(time.Hour)); err != nil {
				t.Errorf("RotateClientSecret: %v", err)
			}
		})
	}
	wg.Wait()
	var current, valid int
	for i, sec := range append([]string{c.ClientSecret}, news...) {
		if _, err := s.AuthenticateClient(ctx, c.ClientID, sec); err == nil {
			valid++
			if i > 0 {
				current++
			}
		} else if !errors.Is(err, storage.ErrInvalidSecret) {
			t.Fatalf("AuthenticateClient: %v", err)
		}
	}
	if current == 0 || valid > 2 {
		t.Errorf("after concurrent rotations %d secrets authenticate (%d of them new), want one or two, at least one new", valid, current)
	}
	if _, err := s.AuthenticateClient(ctx, c.ClientID, "never-set"); !errors.Is(err, storage.ErrInvalidSecret) {
		t.Errorf("AuthenticateClient with a secret never set: %v, want ErrInvalidSecret", err)
	}
	got, err := s.GetClient(ctx, c.ClientID)
	must(t, err)
	if got.SecretHash == "" || got.PreviousSecretValidUntil.IsZero() {
		t.Errorf("after concurrent rotations: hash set %v, previous valid until %v; want both", got.SecretHash != "", got.PreviousSecretValidUntil)
	}
}

// A client ID that could never be stored is not looked up: on a store
// whose connection is closed, such lookups still answer ErrNotFound, while
// a storable ID reaches the server and fails.
func TestUnstorableClientIDNotQueried(t *testing.T) {
	uri, err := mongoenv.FerretDBURI()
	must(t, err)
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	must(t, err)
	s := newStore(t, client.Database(mongoenv.FerretDB(t).Name()), time.Now)
	must(t, client.Disconnect(t.Context()))
	ctx := t.Context()
	ops := map[string]func(id string) error{
		"GetClient": func(id string) error { _, err := s.GetClient(ctx, id); return err },
		"AuthenticateClient": func(id string) error {
			_, err := s.AuthenticateClient(ctx, id, "some-secret")
			return err
		},
		"RotateClientSecret":  func(id string) error { return s.RotateClientSecret(ctx, id, "some-secret", time.Time{}) },
		"RemoveClientSecrets": func(id string) error { return s.RemoveClientSecrets(ctx, id) },
		"RevokeClientTokens":  func(id string) error { return s.RevokeClientTokens(ctx, id) },
		"DeleteClient":        func(id string) error { return s.DeleteClient(ctx, id) },
	}
	for name, op := range ops {
		for _, id := range []string{"", "\xff\xfe", "nul\x00", strings.Repeat("a", storage.MaxIDLen+1)} {
			if err := op(id); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s(%q) = %v, want ErrNotFound without a query", name, id, err)
			}
		}
		if err := op("storable"); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a storable ID on a closed connection = %v, want the connection's error", name, err)
		}
	}
}
