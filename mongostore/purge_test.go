package mongostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/storage"
)

// deleteLog records, through the driver's command monitor, how many
// documents each delete command removed, by collection.
type deleteLog struct {
	mu       sync.Mutex
	pending  map[int64]string // request ID -> collection of a started delete
	deleted  map[string][]int64
	failures []string
	// after, if set, is called after every successful delete command;
	// before before every delete command is sent, with its collection.
	after  func()
	before func(coll string)
}

func (l *deleteLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName != "delete" {
				return
			}
			coll, _ := e.Command.Lookup("delete").StringValueOK()
			l.mu.Lock()
			l.pending[e.RequestID] = coll
			before := l.before
			l.mu.Unlock()
			if before != nil {
				before(coll)
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if e.CommandName != "delete" {
				return
			}
			l.mu.Lock()
			coll := l.pending[e.RequestID]
			n, ok := e.Reply.Lookup("n").AsInt64OK()
			if ok {
				l.deleted[coll] = append(l.deleted[coll], n)
			} else {
				l.failures = append(l.failures, fmt.Sprintf("delete on %s: reply without n: %v", coll, e.Reply))
			}
			after := l.after
			l.mu.Unlock()
			if after != nil {
				after()
			}
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			if e.CommandName != "delete" {
				return
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			l.failures = append(l.failures, fmt.Sprintf("delete on %s failed: %v", l.pending[e.RequestID], e.Failure))
		},
	}
}

// monitoredFerretDB returns a fresh database on the test FerretDB
// server, through a client of its own whose delete commands are logged.
func monitoredFerretDB(t *testing.T) (*mongo.Database, *deleteLog) {
	t.Helper()
	uri, err := mongoenv.FerretDBURI()
	must(t, err)
	log := &deleteLog{pending: make(map[int64]string), deleted: make(map[string][]int64)}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(log.monitor()))
	must(t, err)
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := client.Database("oauthstore_test_purge_" + hex.EncodeToString(b[:]))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("dropping %s: %v", db.Name(), err)
		}
		_ = client.Disconnect(ctx)
	})
	return db, log
}

// fillPurgeable stores, for client c, codes expired expired codes (every
// third one consumed) and expired tokens (half with an expired refresh
// token), plus live ones of each kind, all issued at t0; everything
// "expired" has ended by t0+2m, nothing live before t0+1h.
func fillPurgeable(t *testing.T, s *mongostore.Store, codes, tokens int) (liveCodes, liveAccess, liveRefresh []string) {
	t.Helper()
	ctx := t.Context()
	for i := range codes {
		code := fmt.Sprintf("expired-code-%04d-abcdefghij", i)
		must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}))
		if i%3 == 0 {
			_, err := s.ConsumeAuthorizationCode(ctx, code)
			must(t, err)
		}
	}
	for i := range tokens {
		tok := &models.Token{AccessToken: fmt.Sprintf("expired-access-%04d-abcdefghij", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute}
		if i%2 == 0 {
			tok.RefreshToken = fmt.Sprintf("expired-refresh-%04d-abcdefghij", i)
			tok.RefreshTokenExpiresIn = 2 * time.Minute
		}
		must(t, s.CreateToken(ctx, tok))
	}
	for i := range 3 {
		code := fmt.Sprintf("live-code-%04d-abcdefghij", i)
		must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: t0, ExpiresIn: time.Hour}))
		liveCodes = append(liveCodes, code)
		access := fmt.Sprintf("live-access-%04d-abcdefghij", i)
		must(t, s.CreateToken(ctx, &models.Token{AccessToken: access, ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour}))
		liveAccess = append(liveAccess, access)
		// Access expired, refresh live: kept.
		refresh := fmt.Sprintf("live-refresh-%04d-abcdefghij", i)
		must(t, s.CreateToken(ctx, &models.Token{AccessToken: fmt.Sprintf("old-access-%04d-abcdefghij", i), RefreshToken: refresh,
			ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}))
		liveRefresh = append(liveRefresh, refresh)
	}
	// A live, consumed code keeps its marker.
	_, err := s.ConsumeAuthorizationCode(ctx, liveCodes[0])
	must(t, err)
	return liveCodes, liveAccess, liveRefresh
}

func count(t *testing.T, db *mongo.Database, coll string) int64 {
	t.Helper()
	n, err := db.Collection(mongostore.DefaultCollectionPrefix+coll).CountDocuments(t.Context(), bson.D{})
	must(t, err)
	return n
}

func TestPurgeExpiredInBatches(t *testing.T) {
	const batch, codes, tokens = 7, 50, 40
	db, log := monitoredFerretDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now, mongostore.WithPurgeBatchSize(batch))
	ctx := t.Context()
	liveCodes, liveAccess, liveRefresh := fillPurgeable(t, s, codes, tokens)
	wantMarkers := int64((codes+2)/3) + 1 // every third expired code, and one live code

	if got := count(t, db, "code_uses"); got != wantMarkers {
		t.Fatalf("%d used-markers before the purge, want %d", got, wantMarkers)
	}
	clk.Add(2*time.Minute + time.Millisecond)
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != codes+tokens {
		t.Fatalf("PurgeExpired = %d, %v; want %d, nil", n, err, codes+tokens)
	}

	// What is live is still there; what expired is gone.
	for _, c := range liveCodes[1:] {
		if _, err := s.GetAuthorizationCode(ctx, c); err != nil {
			t.Errorf("live code after the purge: %v", err)
		}
	}
	if _, err := s.GetAuthorizationCode(ctx, liveCodes[0]); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("live used code after the purge: %v, want storage.ErrAlreadyUsed", err)
	}
	for _, a := range liveAccess {
		if _, err := s.GetTokenByAccess(ctx, a); err != nil {
			t.Errorf("live token after the purge: %v", err)
		}
	}
	for _, r := range liveRefresh {
		if _, err := s.GetTokenByRefresh(ctx, r); err != nil {
			t.Errorf("token with a live refresh token after the purge: %v", err)
		}
	}
	if _, err := s.GetAuthorizationCode(ctx, "expired-code-0000-abcdefghij"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("purged used code: %v, want storage.ErrNotFound", err)
	}
	if got, want := count(t, db, "codes"), int64(len(liveCodes)); got != want {
		t.Errorf("%d codes left, want %d", got, want)
	}
	if got := count(t, db, "code_uses"); got != 1 {
		t.Errorf("%d used-markers left, want 1 (the live code's)", got)
	}
	if got, want := count(t, db, "tokens"), int64(len(liveAccess)+len(liveRefresh)); got != want {
		t.Errorf("%d tokens left, want %d", got, want)
	}

	// No delete removed more than a batch, and together they removed
	// everything that expired.
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, f := range log.failures {
		t.Error(f)
	}
	want := map[string]int64{"codes": codes, "code_uses": wantMarkers - 1, "tokens": tokens}
	for coll, total := range want {
		ns := log.deleted[mongostore.DefaultCollectionPrefix+coll]
		var sum int64
		for _, d := range ns {
			if d > batch {
				t.Errorf("a delete on %s removed %d documents, more than the batch size %d", coll, d, batch)
			}
			sum += d
		}
		if sum != total {
			t.Errorf("deletes on %s removed %d documents in all (%v), want %d", coll, sum, ns, total)
		}
		if min := (total + batch - 1) / batch; int64(len(ns)) < min {
			t.Errorf("%d deletes on %s, want at least %d", len(ns), coll, min)
		}
	}

	// Nothing left to purge.
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0, nil", n, err)
	}
}

// A find that comes back exactly full (64 batches of 1) is followed by one
// more find, which ends the loop; one more document takes a second round.
func TestPurgeExpiredFullRounds(t *testing.T) {
	for _, n := range []int{64, 65} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db, log := monitoredFerretDB(t)
			clk := &clock{now: t0}
			s := newStore(t, db, clk.Now, mongostore.WithPurgeBatchSize(1))
			ctx := t.Context()
			for i := range n {
				must(t, s.CreateToken(ctx, &models.Token{AccessToken: fmt.Sprintf("access-%04d-abcdefghij", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute}))
			}
			clk.Add(time.Hour)
			if got, err := s.PurgeExpired(ctx); err != nil || got != int64(n) {
				t.Fatalf("PurgeExpired = %d, %v; want %d, nil", got, err, n)
			}
			if got := count(t, db, "tokens"); got != 0 {
				t.Errorf("%d tokens left, want 0", got)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if ns := log.deleted[mongostore.DefaultCollectionPrefix+"tokens"]; len(ns) != n || slices.Max(ns) != 1 {
				t.Errorf("deletes on tokens removed %v, want %d deletes of one document", ns, n)
			}
		})
	}
}

// ctx is checked between batches: cancelled after the first delete, the
// purge stops with what that delete removed.
func TestPurgeExpiredCancelledBetweenBatches(t *testing.T) {
	const batch = 4
	db, log := monitoredFerretDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now, mongostore.WithPurgeBatchSize(batch))
	for i := range 3 * batch {
		must(t, s.CreateAuthorizationCode(t.Context(), &models.AuthorizationCode{Code: fmt.Sprintf("code-%04d-abcdefghij", i), ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}))
	}
	clk.Add(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log.mu.Lock()
	log.after = cancel
	log.mu.Unlock()
	n, err := s.PurgeExpired(ctx)
	if !errors.Is(err, context.Canceled) || n != batch {
		t.Fatalf("PurgeExpired cancelled after the first batch = %d, %v; want %d, context.Canceled", n, err, batch)
	}
	if got := count(t, db, "codes"); got != 2*batch {
		t.Errorf("%d codes left, want %d", got, 2*batch)
	}
	log.mu.Lock()
	log.after = nil
	log.mu.Unlock()
	if n, err := s.PurgeExpired(t.Context()); err != nil || n != 2*batch {
		t.Errorf("PurgeExpired after the cancelled one = %d, %v; want %d, nil", n, err, 2*batch)
	}
}

// A code found expired but deleted and created again, live, before the
// batch's delete is not deleted: the delete checks the expiry again.
func TestPurgeExpiredSparesRecreated(t *testing.T) {
	db, log := monitoredFerretDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now)
	ctx := t.Context()
	const code = "code-recreated-abcdefghij"
	must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}))
	clk.Add(time.Hour)
	// Between the purge's find and its delete on codes, the code is
	// deleted and created again, live. (The hook sees the deletes it
	// sends itself, too; it acts once.)
	var fired atomic.Bool
	log.mu.Lock()
	log.before = func(coll string) {
		if coll != mongostore.DefaultCollectionPrefix+"codes" || !fired.CompareAndSwap(false, true) {
			return
		}
		if err := s.DeleteAuthorizationCode(ctx, code); err != nil {
			t.Error(err)
		}
		if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: clk.Now(), ExpiresIn: time.Minute}); err != nil {
			t.Error(err)
		}
	}
	log.mu.Unlock()
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
		t.Errorf("PurgeExpired = %d, %v; want 0, nil", n, err)
	}
	if !fired.Load() {
		t.Fatal("the purge sent no delete on codes")
	}
	if _, err := s.GetAuthorizationCode(ctx, code); err != nil {
		t.Errorf("code created again while the purge ran: %v", err)
	}
}

func TestWithPurgeBatchSizeInvalid(t *testing.T) {
	db := mongoenv.FerretDB(t)
	for _, n := range []int{0, -1} {
		if _, err := mongostore.New(t.Context(), db, mongostore.WithPurgeBatchSize(n)); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New with purge batch size %d = %v, want storage.ErrInvalid", n, err)
		}
	}
}
