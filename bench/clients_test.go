package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	oamodels "github.com/go-oauth2/oauth2/v4/models"
	oastore "github.com/go-oauth2/oauth2/v4/store"
	"github.com/ory/fosite"
	fstorage "github.com/ory/fosite/storage"
	"golang.org/x/crypto/bcrypt"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// benchClients are the confidential clients AuthenticateClient cycles
// through. Few, since hashing their secrets at the default cost takes a
// while.
var benchClients = names("bench-client-", 4)

func clientSecret(i int) string { return fmt.Sprintf("s3cret-%02d-%s", i, filler) }

// hashers are the two client secret hashers the docs name: the default one
// and the cheapest one allowed.
var hashers = []hasherSpec{
	{"default", secret.Default(), bcrypt.DefaultCost},
	{"fast", secret.ForTests(), bcrypt.MinCost},
}

type hasherSpec struct {
	name string
	h    secret.Hasher
	cost int // the bcrypt cost of h, for fosite's own hasher
}

// clientAuth authenticates client id with its secret and returns the client
// ID the store returned.
type clientAuth func(ctx context.Context, id, secret string) (string, error)

func newOurClients(tb testing.TB, s storage.Storage) clientAuth {
	tb.Helper()
	ctx := context.Background()
	for i, id := range benchClients {
		err := s.CreateClient(ctx, &models.Client{
			ClientID:      id,
			ClientSecret:  clientSecret(i),
			GrantTypes:    []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken},
			ResponseTypes: []models.ResponseType{models.ResponseTypeCode},
			RedirectURIs:  []string{redirect},
			Scope:         scope,
		})
		if err != nil {
			tb.Fatalf("creating client %s: %v", id, err)
		}
	}
	return func(ctx context.Context, id, secret string) (string, error) {
		c, err := s.AuthenticateClient(ctx, id, secret)
		if err != nil {
			return "", err
		}
		return c.ClientID, nil
	}
}

// newGooauth2Clients is go-oauth2's client store, which keeps secrets in
// plaintext: its manager compares them as they are, so there is no hasher
// to set and both hasher= rows show the same thing.
func newGooauth2Clients() clientAuth {
	cs := oastore.NewClientStore()
	for i, id := range benchClients {
		_ = cs.Set(id, &oamodels.Client{ID: id, Secret: clientSecret(i), Domain: redirect})
	}
	return func(ctx context.Context, id, secret string) (string, error) {
		c, err := cs.GetByID(ctx, id)
		if err != nil {
			return "", err
		}
		if !plainEqual(c.GetSecret(), secret) {
			return "", errors.New("wrong secret")
		}
		return c.GetID(), nil
	}
}

// newFositeClients is fosite's MemoryStore with bcrypt-hashed secrets,
// checked with fosite's own BCrypt hasher at the same cost as ours.
func newFositeClients(tb testing.TB, hs hasherSpec) clientAuth {
	tb.Helper()
	hasher := &fosite.BCrypt{Config: &fosite.Config{HashCost: hs.cost}}
	ctx := context.Background()
	s := fstorage.NewMemoryStore()
	for i, id := range benchClients {
		hash, err := hasher.Hash(ctx, []byte(clientSecret(i)))
		if err != nil {
			tb.Fatal(err)
		}
		s.Clients[id] = &fosite.DefaultClient{ID: id, Secret: hash, RedirectURIs: []string{redirect}}
	}
	return func(ctx context.Context, id, secret string) (string, error) {
		c, err := s.GetClient(ctx, id)
		if err != nil {
			return "", err
		}
		if err := hasher.Compare(ctx, c.GetHashedSecret(), []byte(secret)); err != nil {
			return "", err
		}
		return c.GetID(), nil
	}
}

// BenchmarkAuthenticateClient checks a client's secret against its stored
// hash, at the default hasher (hasher=default: bcrypt cost 10) and at the
// cheapest one allowed (hasher=fast: bcrypt cost 4).
func BenchmarkAuthenticateClient(b *testing.B) {
	for _, hh := range hashers {
		for _, tg := range targets() {
			if tg.clients == nil {
				continue
			}
			for _, mode := range modes {
				name := fmt.Sprintf("hasher=%s/db=%s/impl=%s/mode=%s", hh.name, tg.db, tg.impl, mode)
				b.Run(name, func(b *testing.B) {
					auth := tg.clients(b, hh)
					runAuth(b, mode == "parallel", auth)
				})
			}
		}
	}
}

func runAuth(b *testing.B, parallel bool, auth clientAuth) {
	ctx := context.Background()
	secrets := make([]string, len(benchClients))
	for i := range secrets {
		secrets[i] = clientSecret(i)
	}
	one := func(i int) error {
		j := i % len(benchClients)
		got, err := auth(ctx, benchClients[j], secrets[j])
		if err != nil {
			return fmt.Errorf("authenticating %s: %w", benchClients[j], err)
		}
		if got != benchClients[j] {
			return fmt.Errorf("authenticating %s returned client %q", benchClients[j], got)
		}
		return nil
	}
	if _, err := auth(ctx, benchClients[0], secrets[1]); err == nil {
		b.Fatal("a wrong secret was accepted")
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for i := range b.N {
			if err := one(i); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := one(int(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthenticateFailure times the two failures a caller probing for
// client IDs can tell apart only by time: an unknown client
// (case=unknown-client) and a known client with a wrong secret
// (case=wrong-secret), side by side, at the default hasher, for our stores
// (every backend verifies an unknown or public client against a dummy hash:
// backendkit.ClientAuth). The two should take the same time.
func BenchmarkAuthenticateFailure(b *testing.B) {
	hh := hashers[0]
	for _, tg := range targets() {
		if tg.clients == nil || tg.impl == "gooauth2-buntdb" || tg.impl == "fosite-memory" {
			continue
		}
		for _, c := range []struct{ name, id, secret string }{
			{"unknown-client", "no-such-client", clientSecret(0)},
			{"wrong-secret", benchClients[0], clientSecret(1)},
		} {
			b.Run(fmt.Sprintf("hasher=%s/db=%s/impl=%s/case=%s", hh.name, tg.db, tg.impl, c.name), func(b *testing.B) {
				auth := tg.clients(b, hh)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := auth(ctx, c.id, c.secret); err == nil {
						b.Fatal("a failing authentication succeeded")
					}
				}
			})
		}
	}
}
