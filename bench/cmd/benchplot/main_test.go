package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/oauthstore/oauthstore/bench
cpu: Some CPU
BenchmarkConcurrency/op=lookup/db=sqlite/impl=gormstore/callers=1-2         	    1000	    100000 ns/op	     10000 ops/s	    1768 B/op	      41 allocs/op
BenchmarkConcurrency/op=lookup/db=sqlite/impl=gormstore/callers=1-2         	    1000	    100000 ns/op	     12000 ops/s	    1768 B/op	      41 allocs/op
BenchmarkConcurrency/op=lookup/db=sqlite/impl=gormstore/callers=1-2         	    1000	    100000 ns/op	     30000 ops/s	    1768 B/op	      41 allocs/op
BenchmarkConcurrency/op=lookup/db=sqlite/impl=raw/callers=64-2              	    1000	     50000 ns/op
--- SKIP: BenchmarkConcurrency/op=lookup/db=sqlite/impl=raw/callers=8
BenchmarkConcurrency/op=lookup/db=postgres/impl=gormstore/callers=8-16      	    1000	    100000 ns/op	      2037 ops/s
BenchmarkPool/db=sqlite/impl=gormstore/op=lookup/pool=4-2 	 1000	 100 ns/op	 5 ops/s
BenchmarkConcurrency/op=lookup/db=sqlite/impl=raw/callers=oops-2 	 1000	 100 ns/op
PASS
`

func TestParse(t *testing.T) {
	res, info, err := parse(strings.NewReader(sample), "BenchmarkConcurrency", "ops/s")
	if err != nil {
		t.Fatal(err)
	}
	if len(info) != 3 || info[2] != "cpu: Some CPU" {
		t.Errorf("info = %q", info)
	}
	// The bad callers value is parsed here and refused by build.
	if len(res) != 6 {
		t.Fatalf("got %d results, want 6: %+v", len(res), res)
	}
	first := res[0]
	if first.keys["op"] != "lookup" || first.keys["db"] != "sqlite" || first.keys["impl"] != "gormstore" || first.keys["callers"] != "1" || first.value != 10000 {
		t.Errorf("first result = %+v", first)
	}
	// No ops/s: from ns/op.
	if res[3].keys["callers"] != "64" || res[3].value != 1e9/50000 {
		t.Errorf("ns/op-only result = %+v", res[3])
	}
	// A -16 suffix is GOMAXPROCS, not part of the value.
	if res[4].keys["callers"] != "8" || res[4].value != 2037 {
		t.Errorf("result with -16 = %+v", res[4])
	}
}

func TestBuild(t *testing.T) {
	res, _, err := parse(strings.NewReader(sample), "BenchmarkConcurrency", "ops/s")
	if err != nil {
		t.Fatal(err)
	}
	o := options{bench: "BenchmarkConcurrency", x: "callers", rows: "op", cols: "db", series: "impl", metric: "ops/s"}
	if _, err := build(res, o); err == nil {
		t.Fatal("build accepted callers=oops")
	}
	g, err := build(res[:5], o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.cols, ","); got != "sqlite,postgres" {
		t.Errorf("cols = %s", got)
	}
	if got := g.panels[[2]string{"lookup", "sqlite"}].points["gormstore"][1]; got != 12000 {
		t.Errorf("median of 10000, 12000, 30000 = %v, want 12000", got)
	}
	svg := render(g, "title", "cpu", o)
	for _, want := range []string{"<svg", "impl=raw", `stroke-dasharray="6,4"`, "op=lookup, db=postgres", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG has no %q", want)
		}
	}
}

func TestPoolResults(t *testing.T) {
	res, _, err := parse(strings.NewReader(sample), "BenchmarkPool", "ops/s")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].keys["pool"] != "4" || res[0].value != 5 {
		t.Errorf("pool results = %+v", res)
	}
}

func TestMedianAndTicks(t *testing.T) {
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
	ticks := niceTicks(1234)
	if ticks[0] != 0 || ticks[len(ticks)-1] < 1234 || len(ticks) > 7 {
		t.Errorf("ticks of 1234 = %v", ticks)
	}
	if h := human(35000); h != "35k" {
		t.Errorf("human(35000) = %s", h)
	}
}

func TestRatios(t *testing.T) {
	in := `BenchmarkConcurrency/op=lookup/db=sqlite/impl=gormstore/callers=64-2 	 10	 1 ns/op	 900 ops/s
BenchmarkConcurrency/op=lookup/db=sqlite/impl=raw/callers=64-2 	 10	 1 ns/op	 1000 ops/s
BenchmarkConcurrency/op=lookup/db=memory/impl=memstore/callers=64-2 	 10	 1 ns/op	 5 ops/s
`
	res, _, err := parse(strings.NewReader(in), "BenchmarkConcurrency", "ops/s")
	if err != nil {
		t.Fatal(err)
	}
	o := options{x: "callers", rows: "op", cols: "db", series: "impl", metric: "ops/s", ratioAt: 64}
	g, err := build(res, o)
	if err != nil {
		t.Fatal(err)
	}
	got := ratios(g, o)
	if len(got) != 1 || got[0] != "op=lookup db=sqlite callers=64: gormstore/raw = 0.90" {
		t.Errorf("ratios = %q", got)
	}
}
