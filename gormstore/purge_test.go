package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/purger"
	"github.com/oauthstore/oauthstore/storage"
)

// TestPurgeBatches purges 50 expired codes and 50 expired tokens with a
// batch size of 7 and checks, from the statements the database ran, that
// no DELETE removed more than 7 rows, that they add up, and that live
// rows, revoked-but-live tokens and clients stay.
func TestPurgeBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		rec := recordSQL(t, db)
		clock := newTestClock()
		const batch, expired, live = 7, 50, 5
		s := newStore(t, db, clock, WithPurgeBatchSize(batch))
		if err := s.CreateClient(ctx, &models.Client{ClientID: "c1"}); err != nil {
			t.Fatal(err)
		}
		for i := range expired + live {
			life := time.Minute
			if i >= expired {
				life = time.Hour
			}
			if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: fmt.Sprint("code-", i), ClientID: "c1", AuthTime: clock.Now(), ExpiresIn: life}); err != nil {
				t.Fatal(err)
			}
			tk := &models.Token{AccessToken: fmt.Sprint("access-", i), ClientID: "c1", IssuedAt: clock.Now(), ExpiresIn: life}
			if i%2 == 0 { // half with a refresh token living as long
				tk.RefreshToken, tk.RefreshTokenExpiresIn = fmt.Sprint("refresh-", i), life
			}
			if err := s.CreateToken(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		// Revoked but not expired: kept.
		if err := s.RevokeToken(ctx, fmt.Sprint("access-", expired)); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Minute)
		rec.take()
		n, err := s.PurgeExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2*expired {
			t.Fatalf("PurgeExpired = %d, want %d", n, 2*expired)
		}
		var deletes, sum int64
		for _, st := range rec.take() {
			if !strings.HasPrefix(st.sql, "DELETE") {
				continue
			}
			deletes++
			sum += st.rows
			if st.rows > batch {
				t.Errorf("a DELETE removed %d rows, more than the batch size %d: %s", st.rows, batch, st.sql)
			}
		}
		// 50 rows in batches of 7: 7 full batches and one of 1, per table.
		if sum != 2*expired || deletes != 2*8 {
			t.Fatalf("%d DELETE statements removing %d rows, want 16 removing %d", deletes, sum, 2*expired)
		}
		if c, tk := countRows(t, db, s.t.codes), countRows(t, db, s.t.tokens); c != live || tk != live {
			t.Fatalf("%d codes and %d tokens left, want %d each", c, tk, live)
		}
		if _, err := s.GetTokenByAccess(ctx, fmt.Sprint("access-", expired)); !errors.Is(err, storage.ErrRevoked) {
			t.Fatalf("revoked live token after purge: %v, want ErrRevoked", err)
		}
		if _, err := s.GetClient(ctx, "c1"); err != nil {
			t.Fatalf("client after purge: %v", err)
		}
		if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("second purge = %d, %v", n, err)
		}
	})
}

// TestPurgeExactBatches: a number of rows that is a multiple of the batch
// size ends with one empty batch and counts right.
func TestPurgeExactBatches(t *testing.T) {
	ctx := t.Context()
	clock := newTestClock()
	s := newStore(t, backends[0].open(t), clock, WithPurgeBatchSize(5))
	for i := range 10 {
		if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: fmt.Sprint("c", i), ClientID: "c1", AuthTime: clock.Now(), ExpiresIn: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Minute)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 10 {
		t.Fatalf("PurgeExpired = %d, %v, want 10", n, err)
	}
}

// startTestPurger starts a [purger.Purger] on s driven by the returned
// tick channel and reporting each run on the returned channel.
func startTestPurger(t *testing.T, s purger.Store, onError func(error)) (chan<- time.Time, <-chan purger.Result, *purger.Purger) {
	ticks := make(chan time.Time)
	runs := make(chan purger.Result, 16)
	p, err := purger.Start(context.Background(), s, time.Minute, onError,
		purger.WithTicker(func(time.Duration) (<-chan time.Time, func()) { return ticks, nil }),
		purger.OnResult(func(r purger.Result) { runs <- r }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return ticks, runs, p
}

// TestPurger: the generic purger drives a gormstore store.
func TestPurger(t *testing.T) {
	ctx := t.Context()
	clock := newTestClock()
	db := backends[0].open(t)
	s := newStore(t, db, clock)
	ticks, runs, p := startTestPurger(t, s, func(err error) { t.Errorf("onError: %v", err) })

	for i := range 3 {
		if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: fmt.Sprint("c", i), ClientID: "c1", AuthTime: clock.Now(), ExpiresIn: time.Duration(i+1) * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	ticks <- clock.Now()
	if r := <-runs; r.Purged != 0 || r.Err != nil {
		t.Fatalf("first run = %+v, want nothing purged", r)
	}
	clock.Add(150 * time.Second) // two codes expired
	ticks <- clock.Now()
	if r := <-runs; r.Purged != 2 || r.Err != nil {
		t.Fatalf("second run = %+v, want 2 purged", r)
	}
	if n := countRows(t, db, s.t.codes); n != 1 {
		t.Fatalf("%d codes left, want 1", n)
	}
	p.Stop()
}

// TestPurgerReportsErrors: a failing purge goes to onError and the purger
// keeps running.
func TestPurgerReportsErrors(t *testing.T) {
	clock := newTestClock()
	db := backends[0].open(t)
	s := newStore(t, db, clock)
	if err := db.Exec("DROP TABLE " + s.t.codes).Error; err != nil {
		t.Fatal(err)
	}
	reported := make(chan error, 4)
	ticks, runs, _ := startTestPurger(t, s, func(err error) { reported <- err })
	for range 2 {
		ticks <- clock.Now()
		r := <-runs
		if r.Err == nil {
			t.Fatal("purge on a dropped table succeeded")
		}
		if err := <-reported; err != r.Err {
			t.Fatalf("onError got %v, the run failed with %v", err, r.Err)
		}
	}
}

// ctxStore hands the context of each PurgeExpired call to the test.
type ctxStore struct {
	*Store
	ctxs chan context.Context
}

func (c ctxStore) PurgeExpired(ctx context.Context) (int64, error) {
	c.ctxs <- ctx
	return c.Store.PurgeExpired(ctx)
}

// TestPurgerStopCancels: Stop cancels a purge under way; the store's error
// wraps the cancellation, so the purger does not report it as a failure.
func TestPurgerStopCancels(t *testing.T) {
	blocked := make(chan struct{})
	release := make(chan struct{})
	clock := newTestClock()
	s := newStore(t, backends[0].open(t), clock)
	// A clock that blocks the purge until Stop has cancelled it.
	var calls atomic.Int32
	s.clock = func() time.Time {
		if calls.Add(1) == 1 {
			close(blocked)
			<-release
		}
		return clock.Now()
	}
	cs := ctxStore{Store: s, ctxs: make(chan context.Context, 1)}
	var reported atomic.Int32
	ticks, runs, p := startTestPurger(t, cs, func(error) { reported.Add(1) })
	ticks <- clock.Now()
	ctx := <-cs.ctxs
	<-blocked
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	<-ctx.Done() // Stop has cancelled the run's context
	select {
	case <-stopped:
		t.Fatal("Stop returned while a purge was running")
	default:
	}
	close(release)
	r := <-runs
	<-stopped
	if !r.Interrupted || r.Purged != 0 || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled run = %+v, want an interrupted run that did nothing", r)
	}
	if reported.Load() != 0 {
		t.Fatal("the cancellation was reported as an error")
	}
}
