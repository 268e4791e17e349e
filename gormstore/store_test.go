package gormstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func token(access, refresh string) *models.Token {
	t := &models.Token{AccessToken: access, RefreshToken: refresh, ClientID: "c1", IssuedAt: epoch, ExpiresIn: time.Hour}
	if refresh != "" {
		t.RefreshTokenExpiresIn = 24 * time.Hour
	}
	return t
}

// TestUniqueViolations checks, on every database, that each driver's
// unique-violation error becomes storage.ErrAlreadyExists and that the
// failed create writes nothing.
func TestUniqueViolations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		s := newStore(t, db, newTestClock())

		c := &models.Client{ClientID: "c1", ClientSecret: "s3cret", RedirectURIs: []string{"https://a.example/cb"}}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		other := &models.Client{ClientID: "c1", Scope: "other"}
		if err := s.CreateClient(ctx, other); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("second CreateClient = %v, want ErrAlreadyExists", err)
		}
		if got, err := s.GetClient(ctx, "c1"); err != nil || got.Scope != "" {
			t.Fatalf("GetClient after duplicate = %+v, %v: the first client must be intact", got, err)
		}

		code := &models.AuthorizationCode{Code: "code-1", ClientID: "c1", AuthTime: epoch, ExpiresIn: time.Minute}
		if err := s.CreateAuthorizationCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		code2 := *code
		code2.ClientID = "c2"
		if err := s.CreateAuthorizationCode(ctx, &code2); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("duplicate code = %v, want ErrAlreadyExists", err)
		}
		if n := countRows(t, db, s.t.codes); n != 1 {
			t.Fatalf("%d code rows, want 1", n)
		}

		if err := s.CreateToken(ctx, token("a1", "r1")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name            string
			access, refresh string
		}{
			{"access taken", "a1", "r2"},
			{"refresh taken", "a2", "r1"},
			{"both taken", "a1", "r1"},
		} {
			if err := s.CreateToken(ctx, token(tc.access, tc.refresh)); !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatalf("%s: CreateToken = %v, want ErrAlreadyExists", tc.name, err)
			}
		}
		if n := countRows(t, db, s.t.tokens); n != 1 {
			t.Fatalf("%d token rows after rejected creates, want 1", n)
		}
		if _, err := s.GetTokenByAccess(ctx, "a2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("access token of a rejected create: %v, want ErrNotFound", err)
		}
		if _, err := s.GetTokenByRefresh(ctx, "r2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refresh token of a rejected create: %v, want ErrNotFound", err)
		}
		// Access and refresh uniqueness are separate; tokens without a
		// refresh token do not collide (NULL digests).
		for _, tk := range []*models.Token{token("r1", ""), token("a3", "a1"), token("a4", ""), token("a5", "")} {
			if err := s.CreateToken(ctx, tk); err != nil {
				t.Fatalf("CreateToken(%s): %v", tk.AccessToken, err)
			}
		}
		if n := countRows(t, db, s.t.tokens); n != 5 {
			t.Fatalf("%d token rows, want 5", n)
		}
	})
}

// TestConcurrentConsumeAndCreate: of 32 goroutines consuming one code,
// exactly one wins and the others see ErrAlreadyUsed, with no other error
// (on SQLite: no SQLITE_BUSY); of 32 creating one token, exactly one
// succeeds.
func TestConcurrentConsumeAndCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		s := newStore(t, db, newTestClock())
		for round := range 3 {
			code := &models.AuthorizationCode{Code: "race-" + string(rune('a'+round)), ClientID: "c1", AuthTime: epoch, ExpiresIn: time.Minute}
			if err := s.CreateAuthorizationCode(ctx, code); err != nil {
				t.Fatal(err)
			}
			const n = 32
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = s.ConsumeAuthorizationCode(ctx, code.Code) })
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, storage.ErrAlreadyUsed):
				default:
					t.Fatalf("concurrent consume: unexpected error %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d winners, want exactly 1", round, wins)
			}

			tk := token("race-access-"+string(rune('a'+round)), "race-refresh-"+string(rune('a'+round)))
			for i := range n {
				wg.Go(func() { errs[i] = s.CreateToken(ctx, tk) })
			}
			wg.Wait()
			wins = 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, storage.ErrAlreadyExists):
				default:
					t.Fatalf("concurrent create: unexpected error %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d successful creates, want exactly 1", round, wins)
			}
		}
	})
}

// TestCallerDBUntouched: New and the store's operations leave the caller's
// *gorm.DB as it was (config, logger, pending conditions), and a DB
// carrying conditions does not leak them into the store's queries.
func TestCallerDBUntouched(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		base := b.open(t)
		silent := logger.Default.LogMode(logger.Silent)
		caller := base.Session(&gorm.Session{Logger: silent}).Table("not_ours").Where("1 = 0")
		before := *caller.Config
		beforeStmt := caller.Statement
		beforeTable := caller.Statement.Table
		beforeClauses := len(caller.Statement.Clauses)
		beforePool, beforeConfigPool := caller.Statement.ConnPool, caller.Config.ConnPool

		s := newStore(t, caller, newTestClock())
		if err := s.CreateToken(ctx, token("acc", "ref")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTokenByAccess(ctx, "acc"); err != nil {
			t.Fatalf("the caller's conditions leaked into the store's query: %v", err)
		}
		if err := s.CreateToken(ctx, token("acc", "x")); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatal(err)
		}
		if caller.Config.Logger != silent || caller.Config.TranslateError != before.TranslateError ||
			caller.Config.NamingStrategy != before.NamingStrategy || caller.Config.NowFunc == nil != (before.NowFunc == nil) ||
			caller.Config.SkipDefaultTransaction != before.SkipDefaultTransaction || caller.Config.DryRun != before.DryRun {
			t.Fatal("the caller's gorm config changed")
		}
		if caller.Statement != beforeStmt || caller.Statement.Table != beforeTable || len(caller.Statement.Clauses) != beforeClauses {
			t.Fatal("the caller's statement changed")
		}
		if caller.Statement.ConnPool != beforePool || caller.Config.ConnPool != beforeConfigPool || base.Config.PrepareStmt || caller.Config.PrepareStmt {
			t.Fatal("the caller's connection pool changed")
		}
		if base.Config.TranslateError {
			t.Fatal("TranslateError was turned on in the caller's config")
		}
	})
}

// TestTimesRoundTrip: instants come back in UTC at millisecond precision
// whatever the location and sub-millisecond part given.
func TestTimesRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clock := newTestClock()
		s := newStore(t, b.open(t), clock)
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		issued := time.Date(2030, time.January, 2, 8, 34, 5, 123_456_789, zone) // epoch + 0.123456789s
		tk := &models.Token{AccessToken: "acc", RefreshToken: "ref", ClientID: "c1", IssuedAt: issued,
			ExpiresIn: time.Hour + 999_999*time.Nanosecond, RefreshTokenExpiresIn: 48 * time.Hour}
		if err := s.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTokenByAccess(ctx, "acc")
		if err != nil {
			t.Fatal(err)
		}
		wantIssued := time.Date(2030, time.January, 2, 3, 4, 5, 123_000_000, time.UTC)
		if !got.IssuedAt.Equal(wantIssued) || got.IssuedAt.Location() != time.UTC {
			t.Fatalf("IssuedAt = %v, want %v in UTC", got.IssuedAt, wantIssued)
		}
		if got.ExpiresIn != time.Hour || got.RefreshTokenExpiresIn != 48*time.Hour {
			t.Fatalf("lifetimes = %v, %v", got.ExpiresIn, got.RefreshTokenExpiresIn)
		}
		// Expiry is judged at nanosecond resolution against the stored
		// millisecond instant: valid at it, expired 1ns after.
		clock.Add(wantIssued.Add(time.Hour).Sub(clock.Now()))
		if _, err := s.GetTokenByAccess(ctx, "acc"); err != nil {
			t.Fatalf("at the expiry instant: %v", err)
		}
		if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("purge at the access expiry instant = %d, %v", n, err)
		}
		clock.Add(time.Nanosecond)
		if _, err := s.GetTokenByAccess(ctx, "acc"); !errors.Is(err, storage.ErrExpired) {
			t.Fatalf("1ns after expiry: %v, want ErrExpired", err)
		}
		clock.Add(wantIssued.Add(48 * time.Hour).Sub(clock.Now()))
		if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("purge at the refresh expiry instant = %d, %v", n, err)
		}
		clock.Add(time.Nanosecond)
		if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("purge 1ns after the refresh expiry = %d, %v, want 1", n, err)
		}
	})
}

// TestNewOptions checks option validation and the unsupported-dialect
// error.
func TestNewOptions(t *testing.T) {
	ctx := t.Context()
	db := backends[0].open(t)
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"prefix with a dash", WithTablePrefix("a-b")},
		{"prefix with a digit first", WithTablePrefix("1a")},
		{"prefix too long", WithTablePrefix(strings.Repeat("p", 33))},
		{"zero batch", WithPurgeBatchSize(0)},
		{"negative batch", WithPurgeBatchSize(-1)},
	} {
		if _, err := New(ctx, db, tc.opt); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := New(ctx, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := New(cancelled, db); !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context = %v", err)
	}
	if db.Migrator().HasTable(DefaultTablePrefix + "tokens") {
		t.Error("a failed New created tables")
	}
	if s, err := New(ctx, db, WithTablePrefix(""), WithHasher(secret.ForTests())); err != nil {
		t.Errorf("empty prefix: %v", err)
	} else {
		closeOnCleanup(t, s)
	}
	// nil keeps the default, as on every backend.
	if s, err := New(ctx, db, WithTablePrefix("nils"), WithClock(nil), WithHasher(nil), WithDigestKeys(nil)); err != nil {
		t.Errorf("WithClock(nil), WithHasher(nil), WithDigestKeys(nil): %v", err)
	} else {
		closeOnCleanup(t, s)
		if s.clock == nil || s.hasher == nil {
			t.Error("a nil option replaced a default with nil")
		}
	}
}

func TestLongClientID(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, backends[0].open(t), newTestClock())
	long := strings.Repeat("x", MaxClientIDLen+1)
	if err := s.CreateClient(ctx, &models.Client{ClientID: long}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("CreateClient with a %d-byte ID = %v, want ErrInvalid", len(long), err)
	}
	if err := s.CreateToken(ctx, &models.Token{AccessToken: "a", ClientID: long, IssuedAt: epoch, ExpiresIn: time.Hour}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("CreateToken = %v, want ErrInvalid", err)
	}
	if err := s.CreateClient(ctx, &models.Client{ClientID: long[1:]}); err != nil {
		t.Fatalf("CreateClient with a %d-byte ID: %v", MaxClientIDLen, err)
	}
}

// TestConcurrentDeleteClient deletes a client over and over while other
// goroutines create codes and tokens for it and consume and revoke them:
// no call may fail with anything but the contract's errors (no deadlock
// or busy error surfaces), and once the writers are done a final
// DeleteClient leaves nothing of the client behind.
func TestConcurrentDeleteClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		s := newStore(t, db, newTestClock())
		expected := func(err error) bool {
			return err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, storage.ErrAlreadyUsed)
		}
		var wg sync.WaitGroup
		errc := make(chan error, 64)
		for w := range 4 {
			wg.Go(func() {
				for i := range 15 {
					id := string(rune('a'+w)) + "-" + string(rune('a'+i))
					for _, err := range []error{
						s.CreateClient(ctx, &models.Client{ClientID: "victim"}),
						s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "code-" + id, ClientID: "victim", AuthTime: epoch, ExpiresIn: time.Minute}),
						s.CreateToken(ctx, &models.Token{AccessToken: "acc-" + id, RefreshToken: "ref-" + id, ClientID: "victim", IssuedAt: epoch, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}),
						func() error { _, err := s.ConsumeAuthorizationCode(ctx, "code-"+id); return err }(),
						s.RevokeToken(ctx, "ref-"+id),
					} {
						if !expected(err) {
							errc <- err
						}
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 20 {
					if err := s.DeleteClient(ctx, "victim"); !expected(err) {
						errc <- err
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Errorf("unexpected error: %v", err)
		}
		if err := s.DeleteClient(ctx, "victim"); !expected(err) {
			t.Fatal(err)
		}
		for _, table := range []string{s.t.clients, s.t.codes, s.t.tokens} {
			if n := countRows(t, db, table); n != 0 {
				t.Errorf("%d rows left in %s", n, table)
			}
		}
	})
}
