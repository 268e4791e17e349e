// Package decoratetest helps test the decorators of storage.Storage: a
// fake store with every optional interface, a table that calls every
// reported method, a check that a decorator keeps exactly the optional
// interfaces of the store it wraps, a memstore with a raw dump for the
// conformance suite, and a workload whose credentials a leak test searches
// for. It is imported by tests only.
package decoratetest

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Values the fake and the call table use.
const (
	// FakeClientID is the client ID of every record the fake returns and
	// every call of the table that takes one.
	FakeClientID = "fake-client"
	// FakeCredential is the credential (code, token, secret) every call of
	// the table passes; a decorator must never report it.
	FakeCredential = "fake-credential-Zq4VfJ0Xo3"
	// FakeGrantID is the grant ID RevokeGrant is called with.
	FakeGrantID = "fake-grant-3JkWq81Lp"
	// FakeDump is what the fake's DumpRaw returns.
	FakeDump = "fake dump"
)

// Fake implements [decorate.Store]: every method of the contract returns
// Err (a record of client FakeClientID when Err is nil), and the optional
// methods count their calls.
type Fake struct {
	// Err is what every method returns. Set it before calling.
	Err error
	// Purged is what PurgeExpired returns with a nil Err.
	Purged int64
	// StatsValue is what Stats returns with a nil Err.
	StatsValue storage.Stats

	Closes, StatsCalls, Dumps, Digests atomic.Int64
}

var _ decorate.Store = (*Fake)(nil)

func (f *Fake) client() (*models.Client, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return &models.Client{ClientID: FakeClientID}, nil
}

func (f *Fake) code() (*models.AuthorizationCode, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return &models.AuthorizationCode{ClientID: FakeClientID}, nil
}

func (f *Fake) token() (*models.Token, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	return &models.Token{ClientID: FakeClientID}, nil
}

func (f *Fake) CreateClient(context.Context, *models.Client) error { return f.Err }
func (f *Fake) GetClient(context.Context, string) (*models.Client, error) {
	return f.client()
}

func (f *Fake) AuthenticateClient(context.Context, string, string) (*models.Client, error) {
	return f.client()
}
func (f *Fake) DeleteClient(context.Context, string) error { return f.Err }
func (f *Fake) CreateAuthorizationCode(context.Context, *models.AuthorizationCode) error {
	return f.Err
}

func (f *Fake) GetAuthorizationCode(context.Context, string) (*models.AuthorizationCode, error) {
	return f.code()
}

func (f *Fake) ConsumeAuthorizationCode(context.Context, string) (*models.AuthorizationCode, error) {
	return f.code()
}
func (f *Fake) DeleteAuthorizationCode(context.Context, string) error { return f.Err }
func (f *Fake) CreateToken(context.Context, *models.Token) error      { return f.Err }
func (f *Fake) GetTokenByAccess(context.Context, string) (*models.Token, error) {
	return f.token()
}

func (f *Fake) GetTokenByRefresh(context.Context, string) (*models.Token, error) {
	return f.token()
}
func (f *Fake) RevokeToken(context.Context, string) error                           { return f.Err }
func (f *Fake) RotateToken(context.Context, string, *models.Token) error            { return f.Err }
func (f *Fake) RevokeGrant(context.Context, string) error                           { return f.Err }
func (f *Fake) UpdateClient(context.Context, *models.Client) error                  { return f.Err }
func (f *Fake) RotateClientSecret(context.Context, string, string, time.Time) error { return f.Err }
func (f *Fake) RemoveClientSecrets(context.Context, string) error                   { return f.Err }
func (f *Fake) RevokeClientTokens(context.Context, string) error                    { return f.Err }

func (f *Fake) PurgeExpired(context.Context) (int64, error) {
	if f.Err != nil {
		return 0, f.Err
	}
	return f.Purged, nil
}

func (f *Fake) ListClients(context.Context, storage.ClientQuery) (storage.ClientPage, error) {
	if f.Err != nil {
		return storage.ClientPage{}, f.Err
	}
	return storage.ClientPage{Clients: []*models.Client{{ClientID: FakeClientID}}}, nil
}

func (f *Fake) Close() error { f.Closes.Add(1); return f.Err }

func (f *Fake) Stats(context.Context) (*storage.Stats, error) {
	f.StatsCalls.Add(1)
	if f.Err != nil {
		return nil, f.Err
	}
	s := f.StatsValue
	return &s, nil
}

func (f *Fake) DumpRaw(context.Context) ([]byte, error) {
	f.Dumps.Add(1)
	return []byte(FakeDump), f.Err
}

func (f *Fake) CredentialDigest(credential string) string {
	f.Digests.Add(1)
	return "fake-digest(" + credential + ")"
}

// Call calls one reported method of a store.
type Call struct {
	Method decorate.Method
	Do     func(ctx context.Context, s storage.Storage) error
}

// Calls returns a call of every method the decorators report, each with
// FakeClientID, FakeCredential or FakeGrantID as its arguments. The
// ClientManager and Stats calls fail if s lacks the interface.
func Calls() []Call {
	code := func() *models.AuthorizationCode {
		return &models.AuthorizationCode{Code: FakeCredential, ClientID: FakeClientID, GrantID: FakeGrantID}
	}
	tok := func() *models.Token {
		return &models.Token{AccessToken: FakeCredential, RefreshToken: FakeCredential + "r", ClientID: FakeClientID, GrantID: FakeGrantID}
	}
	client := func() *models.Client { return &models.Client{ClientID: FakeClientID, ClientSecret: FakeCredential} }
	mgr := func(s storage.Storage) storage.ClientManager {
		m, ok := s.(storage.ClientManager)
		if !ok {
			return nil
		}
		return m
	}
	errNoManager := errors.New("decoratetest: the store is no storage.ClientManager")
	return []Call{
		{decorate.CreateClient, func(ctx context.Context, s storage.Storage) error { return s.CreateClient(ctx, client()) }},
		{decorate.GetClient, func(ctx context.Context, s storage.Storage) error {
			_, err := s.GetClient(ctx, FakeClientID)
			return err
		}},
		{decorate.AuthenticateClient, func(ctx context.Context, s storage.Storage) error {
			_, err := s.AuthenticateClient(ctx, FakeClientID, FakeCredential)
			return err
		}},
		{decorate.DeleteClient, func(ctx context.Context, s storage.Storage) error { return s.DeleteClient(ctx, FakeClientID) }},
		{decorate.CreateAuthorizationCode, func(ctx context.Context, s storage.Storage) error {
			return s.CreateAuthorizationCode(ctx, code())
		}},
		{decorate.GetAuthorizationCode, func(ctx context.Context, s storage.Storage) error {
			_, err := s.GetAuthorizationCode(ctx, FakeCredential)
			return err
		}},
		{decorate.ConsumeAuthorizationCode, func(ctx context.Context, s storage.Storage) error {
			_, err := s.ConsumeAuthorizationCode(ctx, FakeCredential)
			return err
		}},
		{decorate.DeleteAuthorizationCode, func(ctx context.Context, s storage.Storage) error {
			return s.DeleteAuthorizationCode(ctx, FakeCredential)
		}},
		{decorate.CreateToken, func(ctx context.Context, s storage.Storage) error { return s.CreateToken(ctx, tok()) }},
		{decorate.GetTokenByAccess, func(ctx context.Context, s storage.Storage) error {
			_, err := s.GetTokenByAccess(ctx, FakeCredential)
			return err
		}},
		{decorate.GetTokenByRefresh, func(ctx context.Context, s storage.Storage) error {
			_, err := s.GetTokenByRefresh(ctx, FakeCredential)
			return err
		}},
		{decorate.RevokeToken, func(ctx context.Context, s storage.Storage) error { return s.RevokeToken(ctx, FakeCredential) }},
		{decorate.RotateToken, func(ctx context.Context, s storage.Storage) error {
			return s.RotateToken(ctx, FakeCredential, tok())
		}},
		{decorate.RevokeGrant, func(ctx context.Context, s storage.Storage) error { return s.RevokeGrant(ctx, FakeGrantID) }},
		{decorate.PurgeExpired, func(ctx context.Context, s storage.Storage) error { _, err := s.PurgeExpired(ctx); return err }},
		{decorate.UpdateClient, func(ctx context.Context, s storage.Storage) error {
			m := mgr(s)
			if m == nil {
				return errNoManager
			}
			return m.UpdateClient(ctx, &models.Client{ClientID: FakeClientID})
		}},
		{decorate.RotateClientSecret, func(ctx context.Context, s storage.Storage) error {
			m := mgr(s)
			if m == nil {
				return errNoManager
			}
			return m.RotateClientSecret(ctx, FakeClientID, FakeCredential, time.Time{})
		}},
		{decorate.RemoveClientSecrets, func(ctx context.Context, s storage.Storage) error {
			m := mgr(s)
			if m == nil {
				return errNoManager
			}
			return m.RemoveClientSecrets(ctx, FakeClientID)
		}},
		{decorate.ListClients, func(ctx context.Context, s storage.Storage) error {
			m := mgr(s)
			if m == nil {
				return errNoManager
			}
			_, err := m.ListClients(ctx, storage.ClientQuery{UserID: FakeClientID})
			return err
		}},
		{decorate.RevokeClientTokens, func(ctx context.Context, s storage.Storage) error {
			m := mgr(s)
			if m == nil {
				return errNoManager
			}
			return m.RevokeClientTokens(ctx, FakeClientID)
		}},
		{decorate.Stats, func(ctx context.Context, s storage.Storage) error {
			r, ok := s.(storage.StatsReporter)
			if !ok {
				return errors.New("decoratetest: the store is no storage.StatsReporter")
			}
			_, err := r.Stats(ctx)
			return err
		}},
	}
}

// CheckOptional checks that wrap, a decorator, keeps exactly the optional
// interfaces of the store it wraps, for each of their 16 combinations, and
// forwards their methods; and that it always implements
// [storage.ClientManager].
func CheckOptional(t *testing.T, wrap func(storage.Storage) storage.Storage) {
	t.Helper()
	ctx := context.Background()
	for o := range decorate.AllOptional + 1 {
		f := &Fake{StatsValue: storage.Stats{Clients: 42}}
		inner := decorate.Only(f, o)
		if got := decorate.OptionalOf(inner); got != o {
			t.Fatalf("combination %04b: the inner store implements %04b", o, got)
		}
		d := wrap(inner)
		if _, ok := d.(storage.ClientManager); !ok {
			t.Errorf("combination %04b: %T is no storage.ClientManager", o, d)
		}
		c, isCloser := d.(io.Closer)
		r, isStats := d.(storage.StatsReporter)
		dr, isDumper := d.(conformance.RawDumper)
		dg, isDigester := d.(conformance.CredentialDigester)
		for _, c := range []struct {
			name    string
			bit     decorate.Optional
			has     bool
			forward func() error
		}{
			{"io.Closer", decorate.HasClose, isCloser, func() error {
				if err := c.Close(); err != nil || f.Closes.Load() != 1 {
					return errors.New("Close not forwarded")
				}
				return nil
			}},
			{"storage.StatsReporter", decorate.HasStats, isStats, func() error {
				s, err := r.Stats(ctx)
				if err != nil || s == nil || s.Clients != 42 || f.StatsCalls.Load() != 1 {
					return errors.New("Stats not forwarded")
				}
				return nil
			}},
			{"conformance.RawDumper", decorate.HasDumpRaw, isDumper, func() error {
				b, err := dr.DumpRaw(ctx)
				if err != nil || string(b) != FakeDump || f.Dumps.Load() != 1 {
					return errors.New("DumpRaw not forwarded")
				}
				return nil
			}},
			{"conformance.CredentialDigester", decorate.HasCredentialDigest, isDigester, func() error {
				if got := dg.CredentialDigest("x"); got != "fake-digest(x)" || f.Digests.Load() != 1 {
					return errors.New("CredentialDigest not forwarded")
				}
				return nil
			}},
		} {
			want := o&c.bit != 0
			if c.has != want {
				t.Errorf("combination %04b: %T implements %s: %t, the inner store: %t", o, d, c.name, c.has, want)
				continue
			}
			if c.has {
				if err := c.forward(); err != nil {
					t.Errorf("combination %04b: %s", o, err)
				}
			}
		}
	}
}
