package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// The token and code benchmarks. Each runs every target at every size, in
// serial (mode=serial: one goroutine) and parallel (mode=parallel:
// b.RunParallel, GOMAXPROCS goroutines) form, and fails on the first result
// that is not the expected one.

var modes = []string{"serial", "parallel"}

func benchName(db, impl string, n int, mode string) string {
	return fmt.Sprintf("db=%s/impl=%s/n=%s/mode=%s", db, impl, sizeName(n), mode)
}

// forTargets runs body for every target, size and mode.
func forTargets(b *testing.B, body func(b *testing.B, tg *target, n int, parallel bool)) {
	for _, tg := range targets() {
		for _, n := range tg.sizes() {
			for _, mode := range modes {
				b.Run(benchName(tg.db, tg.impl, n, mode), func(b *testing.B) {
					body(b, tg, n, mode == "parallel")
				})
			}
		}
	}
}

// BenchmarkGetByAccess looks up stored, live tokens by access token. On SQL
// and MongoDB it also runs the floors: the same lookup written by hand.
func BenchmarkGetByAccess(b *testing.B) {
	for _, tg := range targets() {
		for _, n := range tg.sizes() {
			for _, mode := range modes {
				b.Run(benchName(tg.db, tg.impl, n, mode), func(b *testing.B) {
					f := tg.fixture(b, n)
					runLookup(b, mode == "parallel", f.sample.access, f.sample.clientID, f.impl.getByAccess)
				})
				for _, fl := range tg.floors {
					b.Run(benchName(tg.db, fl, n, mode), func(b *testing.B) {
						f := tg.fixture(b, n)
						get, ok := f.floors[fl]
						if !ok {
							b.Fatalf("fixture has no floor %s", fl)
						}
						runLookup(b, mode == "parallel", f.sample.access, f.sample.clientID, get)
					})
				}
			}
		}
	}
}

// BenchmarkGetByAccessMiss looks up access tokens that are not stored.
func BenchmarkGetByAccessMiss(b *testing.B) {
	forTargets(b, func(b *testing.B, tg *target, n int, parallel bool) {
		f := tg.fixture(b, n)
		runLookup(b, parallel, f.sample.miss, nil, f.impl.getByAccess)
	})
}

// BenchmarkGetByRefresh looks up stored, live tokens by refresh token.
func BenchmarkGetByRefresh(b *testing.B) {
	forTargets(b, func(b *testing.B, tg *target, n int, parallel bool) {
		f := tg.fixture(b, n)
		runLookup(b, parallel, f.sample.refresh, f.sample.clientID, f.impl.getByRefresh)
	})
}

// runLookup calls get on keys in turn, b.N times in all. want[j] is the
// client ID keys[j] must return; want nil means every key must miss.
func runLookup(b *testing.B, parallel bool, keys, want []string, get lookup) {
	ctx := context.Background()
	check := func(j int, got string, err error) error {
		switch {
		case want == nil && !errors.Is(err, errMiss):
			return fmt.Errorf("lookup %d of a credential never stored: got client %q, error %v; want not found", j, got, err)
		case want != nil && err != nil:
			return fmt.Errorf("lookup %d of a stored token: %w", j, err)
		case want != nil && got != want[j]:
			return fmt.Errorf("lookup %d returned client %q, want %q", j, got, want[j])
		}
		return nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		j := 0
		for range b.N {
			got, err := get(ctx, keys[j])
			if err := check(j, got, err); err != nil {
				b.Fatal(err)
			}
			if j++; j == len(keys) {
				j = 0
			}
		}
		return
	}
	var seq atomic.Uint32
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine starts elsewhere in the sample.
		j := int(seq.Add(1)) * 7919 % len(keys)
		for pb.Next() {
			got, err := get(ctx, keys[j])
			if err := check(j, got, err); err != nil {
				b.Error(err)
				return
			}
			if j++; j == len(keys) {
				j = 0
			}
		}
	})
}

// roundClient returns the client ID a round issues its data to, so that
// the round can remove it afterwards.
func roundClient(space uint32) string { return fmt.Sprintf("round-%08x", space) }

// BenchmarkCreateToken stores new token pairs (access and refresh). Each
// iteration also builds the two 43-byte credentials (one small allocation
// each; see BenchmarkOverhead).
func BenchmarkCreateToken(b *testing.B) {
	forTargets(b, func(b *testing.B, tg *target, n int, parallel bool) {
		f, done := tg.round(b, n)
		space := newSpace()
		client := roundClient(space)
		ctx := context.Background()
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t := tokenAt(space, next.Add(1)-1, client)
					if err := f.impl.create(ctx, &t); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := range b.N {
				t := tokenAt(space, uint64(i), client)
				if err := f.impl.create(ctx, &t); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		// The last token created must be there.
		last := uint64(b.N - 1)
		if parallel {
			last = next.Load() - 1
		}
		t := tokenAt(space, last, client)
		if got, err := f.impl.getByAccess(ctx, t.access); err != nil || got != client {
			b.Fatalf("token created last: got client %q, error %v; want %q", got, err, client)
		}
		done(client)
	})
}

// BenchmarkRevoke revokes live token pairs by their access token. The b.N
// tokens are created before the timer starts.
func BenchmarkRevoke(b *testing.B) {
	forTargets(b, func(b *testing.B, tg *target, n int, parallel bool) {
		f, done := tg.round(b, n)
		space := newSpace()
		client := roundClient(space)
		ctx := context.Background()
		toks := make([]tokenIn, b.N)
		for i := range toks {
			toks[i] = tokenAt(space, uint64(i), client)
		}
		if err := bulkCreate(ctx, f.impl, toks); err != nil {
			b.Fatal(err)
		}
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := f.impl.revoke(ctx, &toks[next.Add(1)-1]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := range toks {
				if err := f.impl.revoke(ctx, &toks[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		for _, i := range []int{0, len(toks) - 1} {
			if got, err := f.impl.getByAccess(ctx, toks[i].access); err == nil {
				b.Fatalf("revoked token %d still live (client %q)", i, got)
			}
		}
		done(client)
	})
}

// bulkCreate creates toks.
func bulkCreate(ctx context.Context, impl tokens, toks []tokenIn) error {
	return forEach(len(toks), func(i int) error { return impl.create(ctx, &toks[i]) })
}

// BenchmarkExchangeCode stores an authorization code and redeems it: what
// the authorization and token endpoints do with a code, end to end.
func BenchmarkExchangeCode(b *testing.B) {
	forTargets(b, func(b *testing.B, tg *target, n int, parallel bool) {
		f, done := tg.round(b, n)
		space := newSpace()
		client := roundClient(space)
		ctx := context.Background()
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := codeAt(space, next.Add(1)-1, client)
					if err := f.impl.exchange(ctx, &c); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := range b.N {
				c := codeAt(space, uint64(i), client)
				if err := f.impl.exchange(ctx, &c); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		done(client)
	})
}

// BenchmarkOverhead measures what the token benchmarks spend outside the
// stores: building one token's two credentials. Subtract it from
// CreateToken to compare stores alone.
func BenchmarkOverhead(b *testing.B) {
	b.ReportAllocs()
	var sink int
	for i := range b.N {
		t := tokenAt(1, uint64(i), "x")
		sink += len(t.access) + len(t.refresh)
	}
	if sink != b.N*2*credLen {
		b.Fatal("wrong credential length")
	}
}
