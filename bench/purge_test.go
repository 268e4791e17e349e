package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

const (
	// purgeRows expired tokens are purged by each BenchmarkPurge iteration.
	purgeRows = 100_000
	// purgeLive live tokens stay in the store throughout, and must.
	purgeLive = 10_000
)

// purgeToken returns token i of space, issued two days before the run and
// purgeable since the day before (expired is false: live for the run).
func purgeToken(space uint32, i uint64, expired bool) *models.Token {
	t := newToken(&tokenIn{
		access:   cred(kindAccess, space, i),
		refresh:  cred(kindRefresh, space, i),
		clientID: clientIDs[i%uint64(len(clientIDs))],
		userID:   userIDs[i%uint64(len(userIDs))],
	})
	if expired {
		t.IssuedAt = issued.Add(-48 * time.Hour)
		t.ExpiresIn = time.Hour
		t.RefreshTokenExpiresIn = 24 * time.Hour
	}
	return t
}

// purgeFixture is a store for BenchmarkPurge.
type purgeFixture struct {
	s storage.Storage
	// fill stores tokens 0..n-1 of space, built by purgeToken. nil means
	// CreateToken from several goroutines.
	fill func(ctx context.Context, space uint32, n int, expired bool) error
	// stmts, if set, times every statement the store sends while a purge
	// runs; nil if the store's statements cannot be timed one by one.
	stmts *stmtTimer
	// wholeCall: the purge is one critical section (memstore holds every
	// lock throughout), so the longest statement is the whole call.
	wholeCall bool
	// live is a token of the purgeLive ones, which must survive.
	live string
}

// stmtTimer records the longest statement since reset.
type stmtTimer struct {
	mu    sync.Mutex
	on    bool
	max   time.Duration
	count int
}

func (st *stmtTimer) start() {
	st.mu.Lock()
	st.on, st.max, st.count = true, 0, 0
	st.mu.Unlock()
}

func (st *stmtTimer) stop() (longest time.Duration, n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.on = false
	return st.max, st.count
}

func (st *stmtTimer) observe(d time.Duration) {
	st.mu.Lock()
	if st.on {
		st.count++
		st.max = max(st.max, d)
	}
	st.mu.Unlock()
}

func (p *purgeFixture) store(ctx context.Context, space uint32, n int, expired bool) error {
	if p.fill != nil {
		return p.fill(ctx, space, n, expired)
	}
	return forEach(n, func(i int) error { return p.s.CreateToken(ctx, purgeToken(space, uint64(i), expired)) })
}

// setUp stores the live tokens; backends call it once on a new purgeFixture.
func (p *purgeFixture) setUp(tb testing.TB) *purgeFixture {
	tb.Helper()
	space := newSpace()
	if err := p.store(context.Background(), space, purgeLive, false); err != nil {
		tb.Fatalf("storing live tokens: %v", err)
	}
	p.live = cred(kindAccess, space, purgeLive/2)
	return p
}

func newMemPurger(tb testing.TB) *purgeFixture {
	return once(tb, "memstore/purge", func(t testing.TB) *purgeFixture {
		return (&purgeFixture{s: memstore.New(), wholeCall: true}).setUp(t)
	})
}

// BenchmarkPurge deletes 100k expired tokens from a store that also holds
// 10k live ones; one iteration is one PurgeExpired call, and the expired
// tokens are stored again, untimed, before each. It reports rows/s and
// max-stmt-ms, the longest single statement the store sent (for memstore,
// the whole call, during which it holds every lock).
func BenchmarkPurge(b *testing.B) {
	for _, tg := range targets() {
		if tg.purger == nil {
			continue
		}
		rows := purgeRows
		if tg.purgeRows != 0 {
			rows = tg.purgeRows
		}
		b.Run(fmt.Sprintf("db=%s/impl=%s/n=%s/mode=serial", tg.db, tg.impl, sizeName(rows)), func(b *testing.B) {
			p := tg.purger(b)
			ctx := context.Background()
			var maxStmt time.Duration
			var stmts int
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if err := p.store(ctx, newSpace(), rows, true); err != nil {
					b.Fatalf("storing expired tokens: %v", err)
				}
				if p.stmts != nil {
					p.stmts.start()
				}
				b.StartTimer()
				start := time.Now()
				n, err := p.s.PurgeExpired(ctx)
				took := time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if n != int64(rows) {
					b.Fatalf("purged %d records, want %d", n, rows)
				}
				switch {
				case p.stmts != nil:
					m, c := p.stmts.stop()
					maxStmt, stmts = max(maxStmt, m), stmts+c
				case p.wholeCall:
					maxStmt, stmts = max(maxStmt, took), stmts+1
				}
				if _, err := p.s.GetTokenByAccess(ctx, p.live); err != nil {
					b.Fatalf("live token after purge: %v", err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if p.stmts != nil || p.wholeCall {
				b.ReportMetric(float64(maxStmt)/float64(time.Millisecond), "max-stmt-ms")
			}
			if p.stmts != nil {
				b.ReportMetric(float64(stmts)/float64(b.N), "stmts/op")
			}
		})
	}
}
