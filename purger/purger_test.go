package purger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/purger"
	"github.com/oauthstore/oauthstore/storage"
)

// fakeStore hands each PurgeExpired call to the test, which answers it.
type fakeStore struct {
	calls chan *call
}

type call struct {
	ctx   context.Context
	reply chan func() (int64, error) // run by PurgeExpired, so that it can panic there
}

func newFakeStore() *fakeStore { return &fakeStore{calls: make(chan *call)} }

func (f *fakeStore) PurgeExpired(ctx context.Context) (int64, error) {
	c := &call{ctx: ctx, reply: make(chan func() (int64, error))}
	f.calls <- c
	return (<-c.reply)()
}

// next waits for the next PurgeExpired call.
func (f *fakeStore) next(t *testing.T) *call {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(10 * time.Second): // a deadlock guard, not a timing assumption
		t.Fatal("PurgeExpired was not called")
		return nil
	}
}

func (c *call) answer(n int64, err error) { c.reply <- func() (int64, error) { return n, err } }

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is a purger driven by a tick channel, reporting to channels.
type harness struct {
	store   *fakeStore
	ticks   chan time.Time
	stopped atomic.Bool // the ticker's stop function was called
	errs    chan error
	results chan purger.Result
	clock   *clock
	p       *purger.Purger
}

func start(t *testing.T, ctx context.Context, opts ...purger.Option) *harness {
	t.Helper()
	h := &harness{
		store:   newFakeStore(),
		ticks:   make(chan time.Time),
		errs:    make(chan error, 16),
		results: make(chan purger.Result, 16),
		clock:   &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	var interval time.Duration
	opts = append([]purger.Option{
		purger.WithTicker(func(d time.Duration) (<-chan time.Time, func()) {
			interval = d
			return h.ticks, func() { h.stopped.Store(true) }
		}),
		purger.WithClock(h.clock.Now),
		purger.OnResult(func(r purger.Result) { h.results <- r }),
	}, opts...)
	p, err := purger.Start(ctx, h.store, 7*time.Minute, func(err error) { h.errs <- err }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if interval != 7*time.Minute {
		t.Fatalf("the ticker was made with interval %v, want 7m", interval)
	}
	h.p = p
	t.Cleanup(p.Stop)
	return h
}

func (h *harness) tick(t *testing.T) {
	t.Helper()
	select {
	case h.ticks <- h.clock.Now():
	case <-time.After(10 * time.Second):
		t.Fatal("the purger does not take ticks")
	}
}

func (h *harness) result(t *testing.T) purger.Result {
	t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
		return purger.Result{}
	}
}

func (h *harness) noErrors(t *testing.T) {
	t.Helper()
	select {
	case err := <-h.errs:
		t.Fatalf("onError got %v", err)
	default:
	}
}

func isDone(p *purger.Purger) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

func TestRunsAtEachTick(t *testing.T) {
	h := start(t, t.Context())
	for i, n := range []int64{5, 0, 12} {
		h.tick(t)
		at := h.clock.Now()
		c := h.store.next(t)
		h.clock.Add(3 * time.Second) // the run takes 3s
		c.answer(n, nil)
		r := h.result(t)
		want := purger.Result{Run: i + 1, At: at, Took: 3 * time.Second, Purged: n}
		if r != want {
			t.Fatalf("run %d: %+v, want %+v", i+1, r, want)
		}
		h.clock.Add(7 * time.Minute)
	}
	h.noErrors(t)
	if isDone(h.p) {
		t.Fatal("the purger stopped by itself")
	}
}

func TestNoRunBeforeFirstTick(t *testing.T) {
	h := start(t, t.Context())
	h.p.Stop()
	select {
	case c := <-h.store.calls:
		t.Fatalf("PurgeExpired called without a tick (ctx err %v)", c.ctx.Err())
	default:
	}
}

func TestRunAtStart(t *testing.T) {
	h := start(t, t.Context(), purger.RunAtStart())
	h.store.next(t).answer(1, nil) // no tick sent
	if r := h.result(t); r.Run != 1 || r.Purged != 1 {
		t.Fatalf("first run %+v", r)
	}
	h.tick(t)
	h.store.next(t).answer(2, nil)
	if r := h.result(t); r.Run != 2 || r.Purged != 2 {
		t.Fatalf("second run %+v", r)
	}
	h.noErrors(t)
}

// TestErrorsReported: every failed run goes to onError, with what it
// deleted before failing in the result, and the purger keeps running.
func TestErrorsReported(t *testing.T) {
	h := start(t, t.Context())
	boom := fmt.Errorf("db down: %w", storage.ErrNotFound)
	for i := range 2 {
		h.tick(t)
		h.store.next(t).answer(int64(i), boom)
		select {
		case err := <-h.errs:
			if err != boom {
				t.Fatalf("onError got %v, want %v", err, boom)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the error was not reported")
		}
		if r := h.result(t); r.Err != boom || r.Purged != int64(i) || r.Interrupted {
			t.Fatalf("result %+v", r)
		}
	}
	h.tick(t)
	h.store.next(t).answer(3, nil)
	if r := h.result(t); r.Err != nil || r.Purged != 3 {
		t.Fatalf("run after failures: %+v", r)
	}
	h.noErrors(t)
}

// TestStopCancelsRun: Stop cancels the run under way, waits for it and for
// the goroutine, and does not report the cancellation as a failure.
func TestStopCancelsRun(t *testing.T) {
	h := start(t, t.Context())
	h.tick(t)
	c := h.store.next(t)
	stopped := make(chan struct{})
	go func() { h.p.Stop(); close(stopped) }()
	<-c.ctx.Done() // Stop has cancelled the run's context
	select {
	case <-stopped:
		t.Fatal("Stop returned while PurgeExpired was running")
	default:
	}
	c.answer(4, fmt.Errorf("store: %w", c.ctx.Err()))
	<-stopped
	if !isDone(h.p) {
		t.Fatal("Stop returned before the goroutine exited")
	}
	if r := h.result(t); !r.Interrupted || r.Purged != 4 || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("interrupted run %+v", r)
	}
	h.noErrors(t)
	if !h.stopped.Load() {
		t.Fatal("the ticker was not stopped")
	}
}

// TestStopTwice: Stop may be called again and from several goroutines; a
// stopped purger takes no tick.
func TestStopTwice(t *testing.T) {
	h := start(t, t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(h.p.Stop)
	}
	wg.Wait()
	h.p.Stop()
	if !isDone(h.p) || !h.stopped.Load() {
		t.Fatal("not stopped")
	}
	select {
	case h.ticks <- time.Now():
		t.Fatal("a stopped purger still takes ticks")
	default:
	}
}

func TestContextCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	h := start(t, ctx)
	h.tick(t)
	c := h.store.next(t)
	cancel()
	<-c.ctx.Done()
	c.answer(0, c.ctx.Err())
	<-h.p.Done()
	if r := h.result(t); !r.Interrupted {
		t.Fatalf("run cut by the context: %+v", r)
	}
	h.noErrors(t)
	h.p.Stop() // still fine
}

// TestPanic: a panic in the store is recovered, reported with its stack,
// and stops the purger.
func TestPanic(t *testing.T) {
	h := start(t, t.Context())
	h.tick(t)
	cause := errors.New("nil map")
	h.store.next(t).reply <- func() (int64, error) { panic(cause) }
	var err error
	select {
	case err = <-h.errs:
	case <-time.After(10 * time.Second):
		t.Fatal("the panic was not reported")
	}
	var pe *purger.PanicError
	if !errors.As(err, &pe) || pe.Value != cause || !errors.Is(err, cause) {
		t.Fatalf("onError got %#v, want a *PanicError of %v", err, cause)
	}
	if !strings.Contains(string(pe.Stack), "fakeStore") {
		t.Fatalf("the stack does not show the store:\n%s", pe.Stack)
	}
	if strings.Contains(err.Error(), "goroutine") {
		t.Fatal("Error() holds the stack")
	}
	<-h.p.Done()
	if r := h.result(t); r.Err != err {
		t.Fatalf("result %+v", r)
	}
	h.p.Stop()
}

// TestTimeout: a run over its timeout fails, and the failure is reported.
func TestTimeout(t *testing.T) {
	h := start(t, t.Context(), purger.WithTimeout(time.Nanosecond))
	h.tick(t)
	c := h.store.next(t)
	<-c.ctx.Done()
	c.answer(0, c.ctx.Err())
	if err := <-h.errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("onError got %v", err)
	}
	if r := h.result(t); r.Interrupted {
		t.Fatalf("a timed-out run counted as interrupted: %+v", r)
	}
	if isDone(h.p) {
		t.Fatal("a timeout stopped the purger")
	}
}

func TestStartRefuses(t *testing.T) {
	ok := func(error) {}
	for name, start := range map[string]func() (*purger.Purger, error){
		"nil store":     func() (*purger.Purger, error) { return purger.Start(t.Context(), nil, time.Minute, ok) },
		"nil onError":   func() (*purger.Purger, error) { return purger.Start(t.Context(), newFakeStore(), time.Minute, nil) },
		"zero interval": func() (*purger.Purger, error) { return purger.Start(t.Context(), newFakeStore(), 0, ok) },
		"negative timeout": func() (*purger.Purger, error) {
			return purger.Start(t.Context(), newFakeStore(), time.Minute, ok, purger.WithTimeout(-1))
		},
	} {
		if p, err := start(); !errors.Is(err, storage.ErrInvalid) || p != nil {
			t.Errorf("%s: %v, %v; want ErrInvalid", name, p, err)
		}
	}
}

// TestDefaultTicker: with the real ticker, Stop returns at once although no
// tick ever came.
func TestDefaultTicker(t *testing.T) {
	p, err := purger.Start(t.Context(), newFakeStore(), time.Hour, func(err error) { t.Errorf("onError: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if !isDone(p) {
		t.Fatal("Stop returned before the goroutine exited")
	}
}

// TestMemstore: a real store's expired records go at the tick after they
// expire.
func TestMemstore(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := memstore.New(memstore.WithClock(clk.Now))
	for i := range 3 {
		if err := store.CreateAuthorizationCode(t.Context(), &models.AuthorizationCode{
			Code: fmt.Sprintf("code-%d-0123456789abcdef", i), ClientID: "app", AuthTime: clk.Now(), ExpiresIn: time.Duration(i+1) * time.Minute,
		}); err != nil {
			t.Fatal(err)
		}
	}
	ticks := make(chan time.Time)
	results := make(chan purger.Result, 4)
	p, err := purger.Start(t.Context(), store, time.Minute, func(err error) { t.Errorf("onError: %v", err) },
		purger.WithTicker(func(time.Duration) (<-chan time.Time, func()) { return ticks, nil }),
		purger.OnResult(func(r purger.Result) { results <- r }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, step := range []struct {
		advance time.Duration
		want    int64
	}{{0, 0}, {90 * time.Second, 1}, {time.Minute, 1}, {time.Hour, 1}, {time.Hour, 0}} {
		clk.Add(step.advance)
		ticks <- clk.Now()
		if r := <-results; r.Purged != step.want || r.Err != nil {
			t.Fatalf("after %v more: %+v, want %d purged", step.advance, r, step.want)
		}
	}
}
