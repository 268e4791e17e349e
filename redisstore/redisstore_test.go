package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// t0 is the instant the tests' clocks start at: in the future, so that a
// store reading the real clock would fail them.
var t0 = time.Date(2032, time.March, 4, 5, 6, 7, 0, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock        { c := new(clock); c.ns.Store(t.UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }

func TestNewRejectsBadOptions(t *testing.T) {
	rdb, _ := embedded.client(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		opt  redisstore.Option
	}{
		{"an empty key prefix", redisstore.WithKeyPrefix("")},
		{"a key prefix with '{'", redisstore.WithKeyPrefix("a{b")},
		{"a key prefix with '}'", redisstore.WithKeyPrefix("a}b")},
		{"a key prefix with NUL", redisstore.WithKeyPrefix("a\x00b")},
		{"a key prefix of invalid UTF-8", redisstore.WithKeyPrefix("a\xffb")},
		{"a key prefix too long", redisstore.WithKeyPrefix(strings.Repeat("p", redisstore.MaxKeyPrefixLen+1))},
		{"a negative TTL grace", redisstore.WithTTLGrace(-time.Nanosecond)},
		{"a zero purge batch size", redisstore.WithPurgeBatchSize(0)},
		{"a negative purge batch size", redisstore.WithPurgeBatchSize(-1)},
	} {
		if _, err := redisstore.New(ctx, rdb, tc.opt); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New with %s: got %v, want an error matching storage.ErrInvalid", tc.name, err)
		}
	}
	if _, err := redisstore.New(ctx, nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New with a nil client: got %v, want storage.ErrInvalid", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := redisstore.New(cancelled, rdb); !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context: got %v, want context.Canceled", err)
	}
	// nil clock and hasher keep the defaults; a prefix at its limit and a
	// zero grace are fine.
	s, err := redisstore.New(ctx, rdb, redisstore.WithClock(nil), redisstore.WithHasher(nil),
		redisstore.WithKeyPrefix(strings.Repeat("p", redisstore.MaxKeyPrefixLen)), redisstore.WithTTLGrace(0))
	if err != nil {
		t.Fatalf("New with nil clock and hasher: %v", err)
	}
	if got, want := s.KeyPrefix(), "{"+strings.Repeat("p", redisstore.MaxKeyPrefixLen)+"}:"; got != want {
		t.Errorf("KeyPrefix() = %q, want %q", got, want)
	}
	def, err := redisstore.New(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if got := def.KeyPrefix(); got != "{oauthstore}:" {
		t.Errorf("default KeyPrefix() = %q, want {oauthstore}:", got)
	}
	// A server that does not answer fails New.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second, MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	if _, err := redisstore.New(ctx, dead); err == nil {
		t.Error("New on a server that does not answer: got no error")
	}
}

// keyTTL reads the TTL of key.
func keyTTL(t *testing.T, f *fixture, key string) time.Duration {
	t.Helper()
	d, err := f.rdb.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

// ttlChecker checks TTLs against what they were set to, allowing for the
// real time elapsed since (a real server counts TTLs down; miniredis
// stands still).
type ttlChecker struct {
	t     *testing.T
	f     *fixture
	since time.Time
}

func (c *ttlChecker) want(what, key string, want time.Duration) {
	c.t.Helper()
	got := keyTTL(c.t, c.f, key)
	slack := time.Since(c.since) + time.Millisecond
	if got > want || got < want-slack {
		c.t.Errorf("TTL of %s (%s) = %v, want %v (less at most the %v elapsed)", what, key, got, want, slack)
	}
}

func (c *ttlChecker) none(what, key string) {
	c.t.Helper()
	if got := keyTTL(c.t, c.f, key); got != -1 {
		c.t.Errorf("TTL of %s (%s) = %v, want none (-1: a key that must not expire)", what, key, got)
	}
}

// Record keys get TTLs of their time left plus the grace period, set at
// creation, never shortened by later writes; indexes live as long as the
// longest-lived record they list; clients and the global indexes have no
// TTL.
func TestKeyTTLs(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			const grace = 90 * time.Minute
			clk := newClock(t0)
			f := newFixture(t, tg, clk.now, redisstore.WithTTLGrace(grace))
			ctx := t.Context()
			p := f.KeyPrefix()
			check := &ttlChecker{t: t, f: f, since: time.Now()}
			must := func(err error, what string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			const grant = "grant-ttl"
			must(f.CreateClient(ctx, &models.Client{ClientID: "ttl-client", UserID: "owner", RedirectURIs: []string{"https://app.example/cb"}}), "CreateClient")
			code := &models.AuthorizationCode{Code: "code-ttl", ClientID: "ttl-client", GrantID: grant, AuthTime: t0, ExpiresIn: 10 * time.Minute}
			expired := &models.AuthorizationCode{Code: "code-expired", ClientID: "ttl-client", AuthTime: t0.Add(-2 * time.Hour), ExpiresIn: time.Minute}
			pair := &models.Token{AccessToken: "access-ttl", RefreshToken: "refresh-ttl", ClientID: "ttl-client", GrantID: grant,
				IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour}
			short := &models.Token{AccessToken: "access-short", ClientID: "ttl-client", GrantID: grant, IssuedAt: t0, ExpiresIn: 30 * time.Minute}
			must(f.CreateAuthorizationCode(ctx, code), "CreateAuthorizationCode")
			must(f.CreateAuthorizationCode(ctx, expired), "CreateAuthorizationCode of an expired code")
			must(f.CreateToken(ctx, pair), "CreateToken")
			must(f.CreateToken(ctx, short), "CreateToken without refresh token")
			d := secret.Digest

			check.none("a client", p+"client:ttl-client")
			check.none("the clients index", p+"clients")
			check.none("an owner index", p+"owner:owner")
			check.none("the code expiry index", p+"expiry:codes")
			check.none("the token expiry index", p+"expiry:tokens")
			check.want("a code", p+"code:"+d(code.Code), 10*time.Minute+grace)
			check.want("a code expired at creation", p+"code:"+d(expired.Code), grace)
			check.want("a pair", p+"access:"+d(pair.AccessToken), 24*time.Hour+grace)
			check.want("a refresh key", p+"refresh:"+d(pair.RefreshToken), 24*time.Hour+grace)
			check.want("a pair without refresh token", p+"access:"+d(short.AccessToken), 30*time.Minute+grace)
			check.want("a grant index", p+"grant:"+grant, 24*time.Hour+grace)
			check.want("an issued index", p+"issued:ttl-client", 24*time.Hour+grace)

			// Consuming, and an hour later revoking and rotating, change no
			// record's TTL; the successor gets its own, and extends the
			// indexes.
			_, err := f.ConsumeAuthorizationCode(ctx, code.Code)
			must(err, "ConsumeAuthorizationCode")
			clk.advance(time.Hour)
			must(f.RevokeToken(ctx, short.AccessToken), "RevokeToken")
			next := &models.Token{AccessToken: "access-next", RefreshToken: "refresh-next", ClientID: "ttl-client",
				IssuedAt: clk.now(), ExpiresIn: time.Hour, RefreshTokenExpiresIn: 48 * time.Hour}
			must(f.RotateToken(ctx, pair.RefreshToken, next), "RotateToken")
			must(f.RevokeGrant(ctx, grant), "RevokeGrant")
			check.want("a consumed code", p+"code:"+d(code.Code), 10*time.Minute+grace)
			check.want("a revoked pair without refresh token", p+"access:"+d(short.AccessToken), 30*time.Minute+grace)
			check.want("a rotated pair", p+"access:"+d(pair.AccessToken), 24*time.Hour+grace)
			check.want("the refresh key of a rotated pair", p+"refresh:"+d(pair.RefreshToken), 24*time.Hour+grace)
			check.want("a successor", p+"access:"+d(next.AccessToken), 48*time.Hour+grace)
			check.want("a successor's refresh key", p+"refresh:"+d(next.RefreshToken), 48*time.Hour+grace)
			check.want("a grant index after a rotation", p+"grant:"+grant, 48*time.Hour+grace)
			check.want("an issued index after a rotation", p+"issued:ttl-client", 48*time.Hour+grace)

			if f.mini == nil {
				return // a real server's clock cannot be moved
			}
			// The server deletes a record at the end of its grace period, not
			// a millisecond before.
			f.mini.FastForward(10*time.Minute + grace - time.Millisecond)
			if !f.mini.Exists(p + "code:" + d(code.Code)) {
				t.Fatal("the code's key was deleted before its grace period ended")
			}
			f.mini.FastForward(time.Millisecond)
			if f.mini.Exists(p + "code:" + d(code.Code)) {
				t.Fatal("the code's key outlived its grace period")
			}
			if f.mini.Exists(p + "code:" + d(expired.Code)) {
				t.Fatal("the key of the code created expired outlived its grace period")
			}
			// PurgeExpired counts only what it deletes, and removes the index
			// entries of the records the server deleted.
			clk.set(t0.Add(10*time.Minute + grace + time.Millisecond))
			n, err := f.PurgeExpired(ctx)
			must(err, "PurgeExpired")
			if n != 1 { // the pair without refresh token; the codes were deleted by their TTL
				t.Errorf("PurgeExpired = %d, want 1", n)
			}
			members, _ := f.rdb.SMembers(ctx, p+"issued:ttl-client").Result()
			for _, m := range members {
				if strings.HasPrefix(m, "c:") || m == "t:"+d(short.AccessToken) {
					t.Errorf("the issued index still lists %s after PurgeExpired", m)
				}
			}
			if n, _ := f.rdb.ZCard(ctx, p+"expiry:codes").Result(); n != 0 {
				t.Errorf("the code expiry index has %d entries after PurgeExpired, want 0", n)
			}
		})
	}
}

// The keys are the documented ones, all under the store's hash tag, and
// none holds a credential.
func TestKeyLayout(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			f := newFixture(t, tg, newClock(t0).now)
			ctx := t.Context()
			if err := f.CreateClient(ctx, &models.Client{ClientID: "layout-client", ClientSecret: "client-secret-value", UserID: "layout-owner"}); err != nil {
				t.Fatal(err)
			}
			if err := f.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "code-value", ClientID: "layout-client", GrantID: "layout-grant", AuthTime: t0, ExpiresIn: time.Minute}); err != nil {
				t.Fatal(err)
			}
			if err := f.CreateToken(ctx, &models.Token{AccessToken: "access-value", RefreshToken: "refresh-value", ClientID: "layout-client", GrantID: "layout-grant", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}); err != nil {
				t.Fatal(err)
			}
			keys, err := scanKeys(ctx, f.rdb, f.KeyPrefix())
			if err != nil {
				t.Fatal(err)
			}
			p := regexp.QuoteMeta(f.KeyPrefix())
			hex := "[0-9a-f]{64}"
			want := []string{
				p + "access:" + hex, p + "client:layout-client", p + "clients", p + "code:" + hex,
				p + "expiry:codes", p + "expiry:tokens", p + "grant:layout-grant", p + "issued:layout-client",
				p + "owner:layout-owner", p + "refresh:" + hex,
			}
			if len(keys) != len(want) {
				t.Fatalf("the store wrote %d keys, want %d: %q", len(keys), len(want), keys)
			}
			for i, k := range keys {
				if !regexp.MustCompile("^" + want[i] + "$").MatchString(k) {
					t.Errorf("key %d = %q, want one matching %s", i, k, want[i])
				}
			}
			raw, err := f.DumpRaw(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"client-secret-value", "code-value", "access-value", "refresh-value"} {
				if strings.Contains(string(raw), v) {
					t.Errorf("a credential is stored in clear")
				}
			}
		})
	}
}

// Creating the same credential or client ID from 64 goroutines at once
// lets exactly one succeed, and nothing of the others is written.
func TestConcurrentCreates(t *testing.T) {
	const callers = 64
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			f := newFixture(t, tg, newClock(t0).now)
			ctx := t.Context()
			race := func(what string, call func(i int) error) []error {
				t.Helper()
				start := make(chan struct{})
				errs := make([]error, callers)
				var wg sync.WaitGroup
				for i := range callers {
					wg.Go(func() { <-start; errs[i] = call(i) })
				}
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, storage.ErrAlreadyExists):
						t.Errorf("concurrent %s: %v, want nil or storage.ErrAlreadyExists", what, err)
					}
				}
				if won != 1 {
					t.Errorf("%d of %d concurrent %s calls succeeded, want exactly 1", won, callers, what)
				}
				return errs
			}
			race("CreateClient", func(i int) error {
				return f.CreateClient(ctx, &models.Client{ClientID: "same-client", Scope: fmt.Sprint(i)})
			})
			race("CreateAuthorizationCode", func(i int) error {
				return f.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "same-code", ClientID: fmt.Sprint("client-", i), AuthTime: t0, ExpiresIn: time.Minute})
			})
			errs := race("CreateToken", func(i int) error {
				return f.CreateToken(ctx, &models.Token{AccessToken: "same-access", RefreshToken: fmt.Sprint("refresh-", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour})
			})
			for i, err := range errs {
				_, got := f.GetTokenByRefresh(ctx, fmt.Sprint("refresh-", i))
				if (err == nil) != (got == nil) {
					t.Errorf("caller %d: CreateToken returned %v, and its refresh token reads back with %v", i, err, got)
				}
			}
		})
	}
}

// Concurrent RevokeGrant and rotations of the grant's refresh token: at
// most one rotation succeeds, and in the end every pair of the grant is
// revoked, whatever the order the scripts ran in.
func TestConcurrentRevokeGrantAndRotate(t *testing.T) {
	const callers = 64
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			f := newFixture(t, tg, newClock(t0).now)
			ctx := t.Context()
			old := &models.Token{AccessToken: "a-old", RefreshToken: "r-old", ClientID: "c", GrantID: "g", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
			if err := f.CreateToken(ctx, old); err != nil {
				t.Fatal(err)
			}
			nexts := make([]*models.Token, callers)
			errs := make([]error, callers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range callers {
				nexts[i] = &models.Token{AccessToken: fmt.Sprint("a-", i), RefreshToken: fmt.Sprint("r-", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						errs[i] = f.RevokeGrant(ctx, "g")
					} else {
						errs[i] = f.RotateToken(ctx, old.RefreshToken, nexts[i])
					}
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case i%2 == 0 && err != nil:
					t.Errorf("RevokeGrant: %v", err)
				case i%2 == 1 && err == nil:
					won++
				case i%2 == 1 && !errors.Is(err, storage.ErrRevoked):
					t.Errorf("RotateToken: %v, want nil or storage.ErrRevoked", err)
				}
				if i%2 == 1 {
					_, got := f.GetTokenByAccess(ctx, nexts[i].AccessToken)
					switch {
					case err == nil && !errors.Is(got, storage.ErrRevoked):
						t.Errorf("the winning rotation's pair reads %v, want storage.ErrRevoked", got)
					case err != nil && !errors.Is(got, storage.ErrNotFound):
						t.Errorf("a losing rotation's pair reads %v, want storage.ErrNotFound", got)
					}
				}
			}
			if won > 1 {
				t.Errorf("%d rotations of one refresh token succeeded", won)
			}
			if _, err := f.GetTokenByAccess(ctx, old.AccessToken); !errors.Is(err, storage.ErrRevoked) {
				t.Errorf("the old pair reads %v, want storage.ErrRevoked", err)
			}
		})
	}
}

// Concurrent PurgeExpired calls, in small batches, delete each expired
// record once: their counts add up to the number of expired records.
func TestPurgeBatchesConcurrent(t *testing.T) {
	const expired, callers = 40, 8
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			clk := newClock(t0)
			f := newFixture(t, tg, clk.now, redisstore.WithPurgeBatchSize(3))
			ctx := t.Context()
			for i := range expired {
				if err := f.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: fmt.Sprint("code-", i), ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}); err != nil {
					t.Fatal(err)
				}
				if err := f.CreateToken(ctx, &models.Token{AccessToken: fmt.Sprint("access-", i), RefreshToken: fmt.Sprint("refresh-", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute, RefreshTokenExpiresIn: 2 * time.Minute}); err != nil {
					t.Fatal(err)
				}
			}
			live := &models.Token{AccessToken: "live", RefreshToken: "live-refresh", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}
			if err := f.CreateToken(ctx, live); err != nil {
				t.Fatal(err)
			}
			clk.advance(2*time.Minute + time.Millisecond)
			var total atomic.Int64
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					n, err := f.PurgeExpired(ctx)
					if err != nil {
						t.Error(err)
					}
					total.Add(n)
				})
			}
			wg.Wait()
			if got := total.Load(); got != 2*expired {
				t.Errorf("concurrent PurgeExpired calls deleted %d records in all, want %d", got, 2*expired)
			}
			if _, err := f.GetTokenByRefresh(ctx, live.RefreshToken); err != nil {
				t.Errorf("a pair with a live refresh token after purges: %v", err)
			}
			if n, err := f.PurgeExpired(ctx); n != 0 || err != nil {
				t.Errorf("PurgeExpired again = %d, %v; want 0", n, err)
			}
		})
	}
}

// The store works on after the server forgets its scripts (SCRIPT FLUSH,
// as after a restart): go-redis falls back from EVALSHA to EVAL.
func TestScriptCacheFlushed(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			f := newFixture(t, tg, newClock(t0).now)
			ctx := t.Context()
			if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH: %v", err)
			}
			c := &models.AuthorizationCode{Code: "flushed", ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}
			if err := f.CreateAuthorizationCode(ctx, c); err != nil {
				t.Fatalf("CreateAuthorizationCode after SCRIPT FLUSH: %v", err)
			}
			if _, err := f.ConsumeAuthorizationCode(ctx, c.Code); err != nil {
				t.Fatalf("ConsumeAuthorizationCode after SCRIPT FLUSH: %v", err)
			}
			if _, err := f.ConsumeAuthorizationCode(ctx, c.Code); !errors.Is(err, storage.ErrAlreadyUsed) {
				t.Fatalf("ConsumeAuthorizationCode again: %v, want storage.ErrAlreadyUsed", err)
			}
		})
	}
}

// Deleting a client, or purging every record, leaves no index entry
// behind: the store's keys are exactly those of what it still holds.
func TestNoKeysLeftBehind(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			clk := newClock(t0)
			f := newFixture(t, tg, clk.now)
			ctx := t.Context()
			must := func(err error, what string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			fill := func(clientID string) {
				must(f.CreateClient(ctx, &models.Client{ClientID: clientID, ClientSecret: "s3cret", UserID: "owner-" + clientID}), "CreateClient")
				for i := range 3 {
					c := &models.AuthorizationCode{Code: fmt.Sprint(clientID, "-code-", i), ClientID: clientID, AuthTime: clk.now(), ExpiresIn: time.Minute}
					must(f.CreateAuthorizationCode(ctx, c), "CreateAuthorizationCode")
					got, err := f.ConsumeAuthorizationCode(ctx, c.Code)
					must(err, "ConsumeAuthorizationCode")
					tok := &models.Token{AccessToken: fmt.Sprint(clientID, "-a-", i), RefreshToken: fmt.Sprint(clientID, "-r-", i), ClientID: clientID,
						GrantID: got.GrantID, IssuedAt: clk.now(), ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}
					must(f.CreateToken(ctx, tok), "CreateToken")
					next := &models.Token{AccessToken: fmt.Sprint(clientID, "-a2-", i), ClientID: clientID, IssuedAt: clk.now(), ExpiresIn: time.Minute}
					must(f.RotateToken(ctx, tok.RefreshToken, next), "RotateToken")
				}
				must(f.RevokeClientTokens(ctx, clientID), "RevokeClientTokens")
			}
			keys := func() []string {
				t.Helper()
				k, err := scanKeys(ctx, f.rdb, f.KeyPrefix())
				must(err, "SCAN")
				return k
			}
			fill("gone")
			must(f.DeleteClient(ctx, "gone"), "DeleteClient")
			if k := keys(); len(k) != 0 {
				t.Errorf("after DeleteClient of the only client, keys are left: %q", k)
			}
			fill("kept")
			clk.advance(time.Hour + time.Millisecond)
			n, err := f.PurgeExpired(ctx)
			must(err, "PurgeExpired")
			if n != 9 {
				t.Errorf("PurgeExpired = %d, want 9 (3 codes, 6 pairs)", n)
			}
			p := f.KeyPrefix()
			want := []string{p + "client:kept", p + "clients", p + "owner:owner-kept"}
			if k := keys(); !slices.Equal(k, want) {
				t.Errorf("after purging every record, the keys are %q, want %q", k, want)
			}
		})
	}
}
