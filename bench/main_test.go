package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
)

// LargeEnv enables the n=1M size when set to 1.
const LargeEnv = "OAUTHSTORE_BENCH_LARGE"

const (
	small = 10_000
	large = 1_000_000
)

// sizes returns the store sizes lookups and creates run at.
func sizes() []int {
	if os.Getenv(LargeEnv) == "1" {
		return []int{small, large}
	}
	return []int{small}
}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}

func TestMain(m *testing.M) {
	code := m.Run()
	processCleanup()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// Fixtures (filled stores, database connections) are expensive, so they live
// for the whole test binary rather than one benchmark run: with -count 10
// each benchmark function runs ten times against the same fixture. The
// testenv helpers register their clean-up on a testing.TB, so they are given
// a processTB, whose clean-ups run in TestMain after every benchmark.

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func processCleanup() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// processTB is a testing.TB that lives until the end of the test binary. It
// is only used inside [once]: Fatal and Skip end the goroutine that [once]
// started, and [once] reports them on the benchmark that asked.
type processTB struct {
	testing.TB // nil: any method not overridden below panics
	name       string

	mu      sync.Mutex
	failed  bool
	skipped bool
	msgs    []string
}

func (p *processTB) Helper()      {}
func (p *processTB) Name() string { return p.name }
func (p *processTB) Cleanup(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}
func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "oauthstore-bench-")
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
func (p *processTB) Context() context.Context { return context.Background() }
func (p *processTB) log(s string) {
	p.mu.Lock()
	p.msgs = append(p.msgs, s)
	p.mu.Unlock()
}
func (p *processTB) Log(args ...any)                 { p.log(fmt.Sprintln(args...)) }
func (p *processTB) Logf(format string, args ...any) { p.log(fmt.Sprintf(format, args...)) }
func (p *processTB) Error(args ...any)               { p.log(fmt.Sprintln(args...)); p.Fail() }
func (p *processTB) Errorf(format string, args ...any) {
	p.log(fmt.Sprintf(format, args...))
	p.Fail()
}
func (p *processTB) Fatal(args ...any) { p.log(fmt.Sprintln(args...)); p.FailNow() }
func (p *processTB) Fatalf(format string, args ...any) {
	p.log(fmt.Sprintf(format, args...))
	p.FailNow()
}
func (p *processTB) Skip(args ...any) { p.log(fmt.Sprintln(args...)); p.SkipNow() }
func (p *processTB) Skipf(format string, args ...any) {
	p.log(fmt.Sprintf(format, args...))
	p.SkipNow()
}
func (p *processTB) Fail() {
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
}
func (p *processTB) FailNow() { p.Fail(); runtime.Goexit() }
func (p *processTB) SkipNow() {
	p.mu.Lock()
	p.skipped = true
	p.mu.Unlock()
	runtime.Goexit()
}
func (p *processTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}
func (p *processTB) Skipped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.skipped
}

// onceResult is a fixture built once per test binary, or the reason it could
// not be.
type onceResult struct {
	val     any
	failed  bool
	skipped bool
	msg     string
}

var (
	onceMu  sync.Mutex
	onceMap = map[string]*onceEntry{}
)

type onceEntry struct {
	once sync.Once
	res  onceResult
}

// once builds the fixture named key the first time it is asked for, with a
// [processTB], and returns it on every later call. If building it skipped or
// failed, every benchmark asking for it is skipped or fails the same way.
func once[T any](tb testing.TB, key string, build func(t testing.TB) T) T {
	tb.Helper()
	onceMu.Lock()
	e, ok := onceMap[key]
	if !ok {
		e = &onceEntry{}
		onceMap[key] = e
	}
	onceMu.Unlock()
	e.once.Do(func() {
		p := &processTB{name: tb.Name() + "#" + key}
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.res.val = build(p)
		}()
		<-done
		e.res.failed, e.res.skipped = p.Failed(), p.Skipped()
		e.res.msg = strings.TrimSpace(strings.Join(p.msgs, "; "))
		if !e.res.failed && !e.res.skipped && e.res.val == nil {
			e.res.failed, e.res.msg = true, "fixture builder returned nothing (panicked?)"
		}
	})
	switch {
	case e.res.failed:
		tb.Fatalf("fixture %s: %s", key, e.res.msg)
	case e.res.skipped:
		tb.Skipf("fixture %s: %s", key, e.res.msg)
	}
	return e.res.val.(T)
}
