package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/storage"
)

// BenchmarkConcurrency and BenchmarkPool measure throughput as the number
// of concurrent callers grows: 1 (a plain loop), 8, 64 and 256 goroutines
// (b.SetParallelism(callers/GOMAXPROCS) and b.RunParallel; a level that is
// not a multiple of GOMAXPROCS is skipped, so with GOMAXPROCS 2 or 4 every
// level runs). Each store of ours runs next to impl=raw: the same
// statements written by hand on the same client (the *sql.DB gorm opened,
// the mongo database, the redis client: the same pool), computing the same
// SHA-256 digests and writing the same rows, so that the store reads what
// raw wrote and the other way round. Besides ns/op every row reports ops/s
// (b.N over the measured wall time), the unit the README's plot shows.

// concCallers are the caller counts of BenchmarkConcurrency.
var concCallers = []int{1, 8, 64, 256}

// concOps are the operations of BenchmarkConcurrency.
var concOps = []string{"lookup", "create", "exchange", "rotate"}

// concImpl is one implementation under BenchmarkConcurrency. Every
// function fails unless the result is the expected one.
type concImpl struct {
	// lookup returns the client ID of the live token of access.
	lookup func(ctx context.Context, access string) (string, error)
	// create stores t's pair.
	create func(ctx context.Context, t *tokenIn) error
	// exchange stores c and consumes it once, checking its client.
	exchange func(ctx context.Context, c *codeIn) error
	// rotate replaces the live pair old by next.
	rotate func(ctx context.Context, old, next *tokenIn) error
}

// oursConc is the concImpl of a store of ours: its storage.Storage methods.
func oursConc(o ours) *concImpl {
	return &concImpl{
		lookup:   o.getByAccess,
		create:   o.create,
		exchange: o.exchange,
		rotate: func(ctx context.Context, old, next *tokenIn) error {
			return o.s.RotateToken(ctx, old.refresh, newToken(next))
		},
	}
}

// concFixture is a store of ours holding small (10k) tokens, and the
// implementations that run on it by impl name: the store, and raw where
// the backend has a driver.
type concFixture struct {
	// store checks what every implementation wrote, and stores the pairs
	// rotate replaces.
	store  ours
	sample *sample
	// release deletes a round's data (DeleteClient).
	release func(ctx context.Context, clientID string) error
	impls   map[string]*concImpl
}

// concTarget is one backend of BenchmarkConcurrency.
type concTarget struct {
	db string
	// impls are the impl= values, in order.
	impls   []string
	fixture func(tb testing.TB) *concFixture
}

// RawFirstEnv, set to 1, makes BenchmarkConcurrency run impl=raw before
// the store of each backend rather than after it. A database drifts during
// a run (autovacuum, checkpoints, its caches), and with -count N the N runs
// of one sub-benchmark follow each other, so whichever implementation runs
// first would meet other conditions than the second every time: run.sh
// runs -count 1 several times instead, setting this on every other run.
const RawFirstEnv = "OAUTHSTORE_BENCH_RAW_FIRST"

// concTargets lists every backend: memstore, the SQL databases, Redis,
// FerretDB (and MongoDB when its variable is set), each with its
// implementations in the order RawFirstEnv says.
func concTargets() []*concTarget {
	out := concBackends()
	if os.Getenv(RawFirstEnv) == "1" {
		for _, tg := range out {
			slices.Reverse(tg.impls)
		}
	}
	return out
}

func concBackends() []*concTarget {
	out := []*concTarget{{db: "memory", impls: []string{"memstore"}, fixture: memConcFixture}}
	for _, sb := range sqlBackends() {
		out = append(out, &concTarget{db: sb.db, impls: []string{"gormstore", "raw"},
			fixture: func(tb testing.TB) *concFixture { return &sb.sqlConc(tb).concFixture }})
	}
	out = append(out, redisConcTarget())
	for _, mb := range mongoBackends() {
		out = append(out, &concTarget{db: mb.db, impls: []string{"mongostore", "raw"}, fixture: mb.concFixture})
	}
	return out
}

// memConcFixture is memstore with small tokens.
func memConcFixture(tb testing.TB) *concFixture {
	return once(tb, "conc/memstore", func(t testing.TB) *concFixture {
		s := memstore.New()
		f := newFixture(t, ours{s}, small)
		o := ours{s}
		return &concFixture{store: o, sample: f.sample, release: s.DeleteClient,
			impls: map[string]*concImpl{"memstore": oursConc(o)}}
	})
}

// warmCallers is how many goroutines warmUp looks tokens up from.
const warmCallers = 64

// warmUp looks tokens up through every implementation of f from
// warmCallers goroutines, twice each, so that the connections the pool
// opens lazily (the SQL pools, go-redis, the mongo driver) and the
// statements prepared per connection exist before the first measurement:
// otherwise the first run of the first benchmark with many callers pays
// for opening them.
func warmUp(ctx context.Context, f *concFixture) error {
	for name, ci := range f.impls {
		err := forEachOf(warmCallers, 2*warmCallers, func(i int) error {
			j := i * 7919 % len(f.sample.access)
			got, err := ci.lookup(ctx, f.sample.access[j])
			if err == nil && got != f.sample.clientID[j] {
				err = fmt.Errorf("returned client %q, want %q", got, f.sample.clientID[j])
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("warming %s up: %w", name, err)
		}
	}
	return nil
}

// forEachOf calls f for 0..n-1 from workers goroutines and returns the
// first error of each.
func forEachOf(workers, n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := f(i); err != nil {
					errs[w] = fmt.Errorf("item %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// skipCallers skips the benchmark if callers goroutines cannot be had
// from b.SetParallelism, which runs a multiple of GOMAXPROCS.
func skipCallers(b *testing.B, callers int) {
	if p := runtime.GOMAXPROCS(0); callers > 1 && callers%p != 0 {
		b.Skipf("%d callers is not a multiple of GOMAXPROCS %d", callers, p)
	}
}

// BenchmarkConcurrency runs each operation with 1, 8, 64 and 256
// concurrent callers on every backend, the store against raw:
//
//   - lookup: GetTokenByAccess of a stored live token, cycling through a
//     sample of the 10k fixture; the returned client ID is checked.
//   - create: CreateToken of a new pair; the first and last pairs are read
//     back through the store afterwards.
//   - exchange: CreateAuthorizationCode then ConsumeAuthorizationCode; the
//     consumed code's client is checked.
//   - rotate: RotateToken of a live pair (the b.N pairs are stored before
//     the timer starts); the last successor must be live and its
//     predecessor not, read through the store.
//
// The SQL stores are opened with explicit pool settings (concPool).
func BenchmarkConcurrency(b *testing.B) {
	for _, op := range concOps {
		for _, tg := range concTargets() {
			for _, impl := range tg.impls {
				for _, callers := range concCallers {
					name := fmt.Sprintf("op=%s/db=%s/impl=%s/callers=%d", op, tg.db, impl, callers)
					b.Run(name, func(b *testing.B) {
						skipCallers(b, callers)
						f := tg.fixture(b)
						ci, ok := f.impls[impl]
						if !ok {
							b.Fatalf("fixture has no impl %s", impl)
						}
						runConcOp(b, f, ci, op, callers)
					})
				}
			}
		}
	}
}

// runConcOp measures op of ci on f with callers goroutines and checks
// the results.
func runConcOp(b *testing.B, f *concFixture, ci *concImpl, op string, callers int) {
	ctx := context.Background()
	space := newSpace()
	client := roundClient(space)
	var step func(i int) error
	var olds, nexts []tokenIn
	switch op {
	case "lookup":
		keys, want := f.sample.access, f.sample.clientID
		step = func(i int) error {
			j := i % len(keys)
			got, err := ci.lookup(ctx, keys[j])
			switch {
			case err != nil:
				return fmt.Errorf("lookup %d of a stored token: %w", j, err)
			case got != want[j]:
				return fmt.Errorf("lookup %d returned client %q, want %q", j, got, want[j])
			}
			return nil
		}
	case "create":
		step = func(i int) error {
			t := tokenAt(space, uint64(i), client)
			return ci.create(ctx, &t)
		}
	case "exchange":
		step = func(i int) error {
			c := codeAt(space, uint64(i), client)
			return ci.exchange(ctx, &c)
		}
	case "rotate":
		olds = make([]tokenIn, b.N)
		nexts = make([]tokenIn, b.N)
		for i := range olds {
			olds[i] = tokenAt(space, uint64(2*i), client)
			nexts[i] = tokenAt(space, uint64(2*i+1), client)
		}
		if err := bulkCreate(ctx, f.store, olds); err != nil {
			b.Fatalf("storing the pairs to rotate: %v", err)
		}
		step = func(i int) error { return ci.rotate(ctx, &olds[i], &nexts[i]) }
	default:
		b.Fatalf("unknown op %s", op)
	}
	runCallers(b, callers, step)
	if b.Failed() {
		return
	}
	// What was written must be readable through the store.
	switch op {
	case "create":
		for _, i := range []int{0, b.N - 1} {
			t := tokenAt(space, uint64(i), client)
			if got, err := f.store.getByAccess(ctx, t.access); err != nil || got != client {
				b.Fatalf("created token %d: got client %q, error %v; want %q", i, got, err, client)
			}
		}
	case "rotate":
		last := b.N - 1
		if got, err := f.store.getByAccess(ctx, nexts[last].access); err != nil || got != client {
			b.Fatalf("successor of the last pair: client %q, error %v; want %q", got, err, client)
		}
		if _, err := f.store.getByAccess(ctx, olds[last].access); err == nil {
			b.Fatal("the last rotated pair is still live")
		}
	}
	if op != "lookup" {
		if err := f.release(ctx, client); err != nil && !errors.Is(err, storage.ErrNotFound) {
			b.Fatalf("releasing round data: %v", err)
		}
	}
}

// runCallers calls step(0..b.N-1), each index once: in a plain loop for
// one caller, otherwise from callers goroutines (callers must be a
// multiple of GOMAXPROCS), and reports ops/s.
func runCallers(b *testing.B, callers int, step func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	if callers == 1 {
		for i := range b.N {
			if err := step(i); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next atomic.Uint64
		b.SetParallelism(callers / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := step(int(next.Add(1) - 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// poolSizes are the MaxOpenConns values of BenchmarkPool.
var poolSizes = []int{1, 2, 4, 8, 16, 32}

// poolCallers is the number of concurrent callers of BenchmarkPool.
const poolCallers = 64

// BenchmarkPool runs gormstore's lookup and create with 64 concurrent
// callers on SQLite, PostgreSQL and MySQL/MariaDB with MaxOpenConns (and
// MaxIdleConns) of 1 to 32, on BenchmarkConcurrency's fixture, whose pool
// is set back afterwards: which pool size to choose. On SQLite more than
// one connection lets reads run in parallel, but the documented setting
// is one (gormstore/doc.go: with several, the WAL is not bounded).
func BenchmarkPool(b *testing.B) {
	for _, sb := range sqlBackends() {
		for _, op := range []string{"lookup", "create"} {
			for _, pool := range poolSizes {
				b.Run(fmt.Sprintf("db=%s/impl=gormstore/op=%s/pool=%d", sb.db, op, pool), func(b *testing.B) {
					skipCallers(b, poolCallers)
					f := sb.sqlConc(b)
					db := f.sqlDB
					setPool(db, pool)
					defer setPool(db, sb.concPool())
					gs := &concFixture{sample: f.sample, impls: map[string]*concImpl{"gormstore": f.impls["gormstore"]}}
					if err := warmUp(context.Background(), gs); err != nil {
						b.Fatal(err)
					}
					runConcOp(b, &f.concFixture, f.impls["gormstore"], op, poolCallers)
				})
			}
		}
	}
}
