package bench

import (
	"context"
	"sync/atomic"
	"testing"
)

// BenchmarkRotate measures RotateToken next to what it replaces on every
// backend of ours: op=rotate revokes a live pair and stores its successor
// atomically (one transaction on SQL, a script on Redis, a unique-key
// insert and three writes on MongoDB); op=create stores a pair; op=revoke
// revokes one; op=create+revoke does both, the non-atomic refresh of
// go-oauth2's stores. Rotation should cost at most create+revoke. Pairs to
// rotate or revoke are created before the timer starts.
func BenchmarkRotate(b *testing.B) {
	for _, tg := range targets() {
		for _, op := range []string{"create", "revoke", "create+revoke", "rotate"} {
			for _, mode := range modes {
				b.Run("db="+tg.db+"/impl="+tg.impl+"/op="+op+"/mode="+mode, func(b *testing.B) {
					f, done := tg.round(b, small)
					o, ok := f.impl.(ours)
					if !ok {
						b.Skip("a peer: no RotateToken")
					}
					benchRotateOp(b, o, op, mode == "parallel", done)
				})
			}
		}
	}
}

func benchRotateOp(b *testing.B, o ours, op string, parallel bool, done func(string)) {
	ctx := context.Background()
	space := newSpace()
	client := roundClient(space)
	olds := make([]tokenIn, b.N)
	nexts := make([]tokenIn, b.N)
	for i := range olds {
		olds[i] = tokenAt(space, uint64(2*i), client)
		nexts[i] = tokenAt(space, uint64(2*i+1), client)
	}
	if op != "create" {
		if err := bulkCreate(ctx, o, olds); err != nil {
			b.Fatal(err)
		}
	}
	step := func(i int) error {
		switch op {
		case "create":
			return o.create(ctx, &olds[i])
		case "revoke":
			return o.revoke(ctx, &olds[i])
		case "create+revoke":
			if err := o.revoke(ctx, &olds[i]); err != nil {
				return err
			}
			return o.create(ctx, &nexts[i])
		default:
			return o.s.RotateToken(ctx, olds[i].refresh, newToken(&nexts[i]))
		}
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := step(int(next.Add(1) - 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for i := range b.N {
			if err := step(i); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if op == "rotate" || op == "create+revoke" {
		last := b.N - 1
		if got, err := o.getByAccess(ctx, nexts[last].access); err != nil || got != client {
			b.Fatalf("successor of the last pair: client %q, error %v; want %q", got, err, client)
		}
		if _, err := o.getByAccess(ctx, olds[last].access); err == nil {
			b.Fatal("the last rotated pair is still live")
		}
	}
	done(client)
}
