package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
)

// BenchmarkPurgeUnderLoad answers "purging 1M expired tokens while lookups
// run: lookup p99 during the purge within 2x of p99 without it, on SQLite
// and PostgreSQL".
//
// A fixture store per database (built once) holds live tokens that must
// survive every purge. One iteration is one full purge, whatever b.N:
//
//  1. untimed: n expired tokens are imported (ImportTokens), then the
//     database is settled (SQLite: the WAL is checkpointed and truncated;
//     PostgreSQL: ANALYZE);
//  2. L goroutines (purgeLookers) look live tokens up (GetTokenByAccess,
//     every result checked) without pause, each lookup timed on its own:
//     first a warm-up whose lookups are discarded, then the idle window,
//     whose lookups give the idle percentiles;
//  3. timed: one PurgeExpired runs while the lookups go on; every lookup
//     that overlaps it gives the purge percentiles. It must delete exactly
//     n tokens, and afterwards the table must hold exactly the live ones.
//
// The real run is -benchtime 1x; with b.N > 1 the percentiles are over the
// lookups of every iteration and purge-s is the mean purge.

const (
	// PurgeLookersEnv sets L, how many goroutines look tokens up throughout
	// (default 4). Each looks up without pause, so that 4 keep both cores
	// of the benchmark machine busy; 1 leaves the purge a core of its own.
	PurgeLookersEnv = "OAUTHSTORE_BENCH_PURGE_LOOKERS"
	// purgeLoadSmallBatch is the smaller purge batch the benchmark
	// compares with gormstore.DefaultPurgeBatchSize.
	purgeLoadSmallBatch = 100
)

// purgeLoadBatches are the purge batch sizes (rows per DELETE) measured.
var purgeLoadBatches = []int{gormstore.DefaultPurgeBatchSize, purgeLoadSmallBatch}

// purgeLoadDB is one database of BenchmarkPurgeUnderLoad.
type purgeLoadDB struct {
	db    string // db= value
	dsn   func(t testing.TB) string
	pools []purgePool
}

// purgePool is one pool= value: the connections of the store that purges
// and, if readers is not 0, a second pool on the same database, used only
// by the lookups (a store of its own on a query-only pool).
type purgePool struct {
	conns, readers int
}

func (p purgePool) String() string {
	if p.readers == 0 {
		return fmt.Sprint(p.conns)
	}
	return fmt.Sprintf("%d+%dr", p.conns, p.readers)
}

// purgeLoadDBs lists the databases: SQLite at one connection (what
// gormstore's documentation recommends), at four, and at one for the store
// plus four query-only ones for the lookups (what a separate read pool in
// the library would do); PostgreSQL with a bounded pool of eight.
func purgeLoadDBs() []purgeLoadDB {
	return []purgeLoadDB{
		{db: "sqlite", dsn: testenv.SQLiteDSN, pools: []purgePool{{conns: 1}, {conns: 4}, {conns: 1, readers: 4}}},
		{db: "postgres", dsn: testenv.PostgresDSN, pools: []purgePool{{conns: 8}}},
	}
}

// purgeLookers returns L, from PurgeLookersEnv.
func purgeLookers() (int, error) {
	v := os.Getenv(PurgeLookersEnv)
	if v == "" {
		return 4, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number", PurgeLookersEnv, v)
	}
	return n, nil
}

// purgeLoadShape returns how many expired tokens one purge deletes, how
// many live tokens the fixture holds, and the warm-up and idle windows. The
// defaults keep the CI smoke run short; LargeEnv=1 gives the real sizes.
func purgeLoadShape() (sizes []int, live int, warm, idle time.Duration) {
	if os.Getenv(LargeEnv) == "1" {
		return []int{100_000, large}, 100_000, 500 * time.Millisecond, 2 * time.Second
	}
	return []int{small}, small, 100 * time.Millisecond, 250 * time.Millisecond
}

// purgeLoadFixture is a database holding the live tokens, with one store
// per purge batch size on it.
type purgeLoadFixture struct {
	db     string
	sqlDB  *sql.DB
	stores map[int]*gormstore.Store // by purge batch size
	sample *sample                  // live tokens to look up
	live   int
	stmts  *purgeStmtLog // times every Exec (the purge's DELETEs)
	// reader is a store on a second, query-only pool of the same database
	// (SQLite only), readerDB its pool.
	reader   *gormstore.Store
	readerDB *sql.DB
	// walPath is the SQLite database's write-ahead log; "" elsewhere.
	walPath string
}

// purgeLoadFixture returns the fixture of d, built once per test binary.
func (d purgeLoadDB) fixture(tb testing.TB) *purgeLoadFixture {
	return once(tb, "gormstore/"+d.db+"/purgeload", func(t testing.TB) *purgeLoadFixture {
		ctx := context.Background()
		_, live, _, _ := purgeLoadShape()
		dsn := d.dsn(t)
		gdb := testenv.OpenGorm(t, d.db, dsn)
		sqlDB, err := gdb.DB()
		if err != nil {
			t.Fatal(err)
		}
		f := &purgeLoadFixture{db: d.db, sqlDB: sqlDB, stores: map[int]*gormstore.Store{}, live: live, stmts: &purgeStmtLog{}}
		for _, batch := range purgeLoadBatches {
			s, err := gormstore.New(ctx, gdb, gormstore.WithPurgeBatchSize(batch))
			if err != nil {
				t.Fatalf("gormstore.New on %s: %v", d.db, err)
			}
			t.Cleanup(func() { _ = s.Close() })
			f.stores[batch] = s
		}
		if err := timePurgeExecs(gdb, f.stmts); err != nil {
			t.Fatal(err)
		}
		space := newSpace()
		s := f.stores[gormstore.DefaultPurgeBatchSize]
		if err := importTokens(ctx, s, live, func(i int) *models.Token { return purgeToken(space, uint64(i), false) }); err != nil {
			t.Fatalf("storing live tokens: %v", err)
		}
		// purgeToken(space, i, false) has tokenAt(space, i, "")'s access
		// token and client ID.
		f.sample = newSample(space, live)
		if d.db == "sqlite" {
			var seq int
			var name, file string
			if err := sqlDB.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
				t.Fatalf("locating the SQLite file: %v", err)
			}
			f.walPath = file + "-wal"
			rdb := testenv.OpenGorm(t, d.db, dsn+"&_query_only=1")
			if f.readerDB, err = rdb.DB(); err != nil {
				t.Fatal(err)
			}
			if f.reader, err = gormstore.New(ctx, rdb, gormstore.WithoutMigrate()); err != nil {
				t.Fatalf("gormstore.New on the query-only pool: %v", err)
			}
			t.Cleanup(func() { _ = f.reader.Close() })
		}
		if err := f.settle(ctx); err != nil {
			t.Fatal(err)
		}
		return f
	})
}

// purgeStmtLog records the duration of every statement while it is on.
type purgeStmtLog struct {
	mu  sync.Mutex
	on  bool
	all []time.Duration
}

// start empties the log and turns it on.
func (st *purgeStmtLog) start() {
	st.mu.Lock()
	st.on, st.all = true, st.all[:0]
	st.mu.Unlock()
}

// stop turns the log off and returns the durations recorded since start,
// sorted.
func (st *purgeStmtLog) stop() []time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.on = false
	out := slices.Clone(st.all)
	slices.Sort(out)
	return out
}

// observe records d if the log is on.
func (st *purgeStmtLog) observe(d time.Duration) {
	st.mu.Lock()
	if st.on {
		st.all = append(st.all, d)
	}
	st.mu.Unlock()
}

// timePurgeExecs registers gorm callbacks that time every statement sent
// through db's Exec, gorm's raw callbacks (the purge's DELETEs; lookups are
// queries and are not counted: stmts/op is the DELETEs of one purge), and
// report the durations to st. A statement's time includes the wait for a
// connection of the pool.
func timePurgeExecs(db *gorm.DB, st *purgeStmtLog) error {
	const key = "bench:purgeload-exec-start"
	for _, err := range []error{
		db.Callback().Raw().Before("gorm:raw").Register("bench:purgeload-exec-start", func(db *gorm.DB) {
			db.InstanceSet(key, time.Now())
		}),
		db.Callback().Raw().After("gorm:raw").Register("bench:purgeload-exec-end", func(db *gorm.DB) {
			if v, ok := db.InstanceGet(key); ok {
				st.observe(time.Since(v.(time.Time)))
			}
		}),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// setPool bounds the connection pools as p says, every connection kept
// idle, and returns the store the lookups use.
func (f *purgeLoadFixture) setPool(tb testing.TB, p purgePool) *gormstore.Store {
	f.sqlDB.SetMaxOpenConns(p.conns)
	f.sqlDB.SetMaxIdleConns(p.conns)
	if p.readers == 0 {
		return nil
	}
	if f.reader == nil {
		tb.Fatalf("%s has no query-only pool", f.db)
	}
	f.readerDB.SetMaxOpenConns(p.readers)
	f.readerDB.SetMaxIdleConns(p.readers)
	return f.reader
}

// settle brings the database to the same state before every measurement:
// on SQLite the WAL is checkpointed and truncated, on PostgreSQL the
// table's statistics are refreshed.
func (f *purgeLoadFixture) settle(ctx context.Context) error {
	q := map[string]string{"sqlite": "PRAGMA wal_checkpoint(TRUNCATE)", "postgres": "ANALYZE " + tokensTable}[f.db]
	if q == "" {
		return nil
	}
	if _, err := f.sqlDB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

// cleanUp runs after each purge, untimed: PostgreSQL vacuums away the
// deleted rows so that iterations start alike.
func (f *purgeLoadFixture) cleanUp(ctx context.Context) error {
	if f.db != "postgres" {
		return nil
	}
	if _, err := f.sqlDB.ExecContext(ctx, "VACUUM "+tokensTable); err != nil {
		return fmt.Errorf("VACUUM: %w", err)
	}
	return nil
}

// walBytes returns the size of SQLite's WAL file, 0 if there is none.
func (f *purgeLoadFixture) walBytes() (int64, error) {
	if f.walPath == "" {
		return 0, nil
	}
	fi, err := os.Stat(f.walPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// countTokens returns how many tokens the table holds.
func (f *purgeLoadFixture) countTokens(ctx context.Context) (int, error) {
	var n int
	err := f.sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tokensTable).Scan(&n)
	return n, err
}

// Phases of a purgeLoadRun, as the lookers see them.
const (
	purgeLoadRunning int32 = iota // warm-up and idle window
	purgeLoadPurging              // PurgeExpired is running
	purgeLoadStopped              // the purge returned: lookers stop
)

// purgeLoadRun is one iteration's lookups: the lookers and the phase they
// are in.
type purgeLoadRun struct {
	phase    atomic.Int32
	idleFrom time.Time // the idle window is [idleFrom, idleTo]
	idleTo   time.Time
	idleDone chan struct{} // closed when a looker passes idleTo
	idleOnce sync.Once
	abort    chan struct{} // closed when a looker fails
	abrtOnce sync.Once
}

// purgeLookerLat holds one looker's latencies, by phase.
type purgeLookerLat struct {
	idle, purge []time.Duration
}

// look runs lookups of the live sample as looker w of lookers (each starts
// at its own offset) until the run stops, and records each one's latency:
// in idle if it began and ended within the idle window, in purge if it
// overlapped the purge. It returns the first wrong result.
func (r *purgeLoadRun) look(ctx context.Context, s *gormstore.Store, smp *sample, w, lookers int, lat *purgeLookerLat) error {
	n := len(smp.access)
	for j := w * n / lookers; ; j++ {
		p0 := r.phase.Load()
		if p0 == purgeLoadStopped {
			return nil
		}
		k := j % n
		t0 := time.Now()
		tok, err := s.GetTokenByAccess(ctx, smp.access[k])
		t1 := time.Now()
		if err == nil && tok.ClientID != smp.clientID[k] {
			err = fmt.Errorf("returned client %q, want %q", tok.ClientID, smp.clientID[k])
		}
		if err != nil {
			r.abrtOnce.Do(func() { close(r.abort) })
			return fmt.Errorf("lookup %d of live token %d: %w", j, k, err)
		}
		d := t1.Sub(t0)
		switch p1 := r.phase.Load(); {
		case p1 != purgeLoadRunning:
			lat.purge = append(lat.purge, d)
		case !t1.Before(r.idleTo):
			r.idleOnce.Do(func() { close(r.idleDone) })
		case !t0.Before(r.idleFrom):
			lat.idle = append(lat.idle, d)
		}
	}
}

// purgeLoadPercentile returns the p-th percentile (0 < p <= 100) of
// sorted, by the nearest-rank method.
func purgeLoadPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// purgeLoadMerged returns the latencies of every looker in one sorted slice.
func purgeLoadMerged(lats []purgeLookerLat, purge bool) []time.Duration {
	var all []time.Duration
	for _, l := range lats {
		if purge {
			all = append(all, l.purge...)
		} else {
			all = append(all, l.idle...)
		}
	}
	slices.Sort(all)
	return all
}

// purgeLoadMicros returns d in microseconds.
func purgeLoadMicros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkPurgeUnderLoad: see the comment at the top of this file. Names:
//
//	BenchmarkPurgeUnderLoad/db=<db>/impl=gormstore/n=<expired>/batch=<rows per DELETE>/pool=<pool>/lookers=<L>
//
// pool is the connections of the store's pool, or "1+4r": one for the store
// and four query-only ones for the lookups.
func BenchmarkPurgeUnderLoad(b *testing.B) {
	sizes, _, warm, idle := purgeLoadShape()
	lookers, err := purgeLookers()
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range purgeLoadDBs() {
		for _, n := range sizes {
			for _, batch := range purgeLoadBatches {
				for _, pool := range d.pools {
					name := fmt.Sprintf("db=%s/impl=gormstore/n=%s/batch=%d/pool=%s/lookers=%d", d.db, sizeName(n), batch, pool, lookers)
					b.Run(name, func(b *testing.B) {
						f := d.fixture(b)
						s := f.stores[batch]
						look := f.setPool(b, pool)
						if look == nil {
							look = s
						}
						runPurgeUnderLoad(b, f, s, look, n, lookers, warm, idle)
					})
				}
			}
		}
	}
}

// runPurgeUnderLoad runs b.N iterations of BenchmarkPurgeUnderLoad: s
// purges n expired tokens each time while lookers goroutines look tokens up
// through look (s itself, or a store on a pool of its own).
func runPurgeUnderLoad(b *testing.B, f *purgeLoadFixture, s, look *gormstore.Store, n, lookers int, warm, idle time.Duration) {
	ctx := context.Background()
	lats := make([]purgeLookerLat, lookers)
	for i := range lats {
		lats[i] = purgeLookerLat{idle: make([]time.Duration, 0, 1<<18), purge: make([]time.Duration, 0, 1<<20)}
	}
	var (
		purgeTime time.Duration
		fillTime  time.Duration   // untimed: importing the expired tokens, settling
		stmtLat   []time.Duration // every purge statement of every iteration
		maxWAL    int64
	)
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		space := newSpace()
		fillStart := time.Now()
		if err := importTokens(ctx, s, n, func(i int) *models.Token { return purgeToken(space, uint64(i), true) }); err != nil {
			b.Fatalf("storing expired tokens: %v", err)
		}
		if err := f.settle(ctx); err != nil {
			b.Fatal(err)
		}
		fillTime += time.Since(fillStart)

		start := time.Now()
		r := &purgeLoadRun{
			idleFrom: start.Add(warm),
			idleTo:   start.Add(warm + idle),
			idleDone: make(chan struct{}),
			abort:    make(chan struct{}),
		}
		errs := make([]error, lookers)
		var wg sync.WaitGroup
		for w := range lookers {
			wg.Go(func() { errs[w] = r.look(ctx, look, f.sample, w, lookers, &lats[w]) })
		}
		stopLookers := func() error {
			r.phase.Store(purgeLoadStopped)
			wg.Wait()
			return errors.Join(errs...)
		}
		select {
		case <-r.idleDone:
		case <-r.abort:
			b.Fatalf("lookups before the purge: %v", stopLookers())
		}

		f.stmts.start()
		r.phase.Store(purgeLoadPurging)
		b.StartTimer()
		t0 := time.Now()
		deleted, err := s.PurgeExpired(ctx)
		took := time.Since(t0)
		b.StopTimer()
		lookErr := stopLookers()
		st := f.stmts.stop()
		if err != nil {
			b.Fatalf("purge: %v", err)
		}
		if lookErr != nil {
			b.Fatalf("lookups: %v", lookErr)
		}
		if deleted != int64(n) {
			b.Fatalf("purged %d records, want %d", deleted, n)
		}
		left, err := f.countTokens(ctx)
		if err != nil {
			b.Fatalf("counting tokens after the purge: %v", err)
		}
		if left != f.live {
			b.Fatalf("%d tokens left after the purge, want the %d live ones", left, f.live)
		}
		wal, err := f.walBytes()
		if err != nil {
			b.Fatal(err)
		}
		purgeTime += took
		stmtLat, maxWAL = append(stmtLat, st...), max(maxWAL, wal)
		if err := f.cleanUp(ctx); err != nil {
			b.Fatal(err)
		}
	}

	idleLat, purgeLat := purgeLoadMerged(lats, false), purgeLoadMerged(lats, true)
	if len(idleLat) == 0 || len(purgeLat) == 0 {
		b.Fatalf("no lookups measured (idle %d, purge %d)", len(idleLat), len(purgeLat))
	}
	p99Idle, p99Purge := purgeLoadPercentile(idleLat, 99), purgeLoadPercentile(purgeLat, 99)
	b.ReportMetric(purgeLoadMicros(p99Idle), "p99-idle-µs")
	b.ReportMetric(purgeLoadMicros(p99Purge), "p99-purge-µs")
	b.ReportMetric(float64(p99Purge)/float64(p99Idle), "p99-ratio")
	b.ReportMetric(purgeLoadMicros(purgeLoadPercentile(idleLat, 50)), "p50-idle-µs")
	b.ReportMetric(purgeLoadMicros(purgeLoadPercentile(purgeLat, 50)), "p50-purge-µs")
	b.ReportMetric(purgeLoadMicros(purgeLoadPercentile(purgeLat, 99.9)), "p999-purge-µs")
	b.ReportMetric(purgeTime.Seconds()/float64(b.N), "purge-s")
	b.ReportMetric(fillTime.Seconds()/float64(b.N), "fill-s")
	b.ReportMetric(float64(len(purgeLat))/purgeTime.Seconds(), "lookups/s-purge")
	b.ReportMetric(float64(len(idleLat))/(idle.Seconds()*float64(b.N)), "lookups/s-idle")
	slices.Sort(stmtLat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(purgeLoadPercentile(stmtLat, 50)), "p50-stmt-ms")
	b.ReportMetric(ms(purgeLoadPercentile(stmtLat, 100)), "max-stmt-ms")
	b.ReportMetric(float64(len(stmtLat))/float64(b.N), "stmts/op")
	if f.walPath != "" {
		b.ReportMetric(float64(maxWAL)/(1<<20), "wal-MB")
	}
}
