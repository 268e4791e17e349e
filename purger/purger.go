package purger

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/storage"
)

// Store is what a [Purger] needs of a store: every [storage.Storage] is one.
type Store interface {
	PurgeExpired(ctx context.Context) (int64, error)
}

var _ Store = storage.Storage(nil)

// Result is the outcome of one run, as [OnResult] sees it.
type Result struct {
	// Run counts the runs from 1.
	Run int
	// At is when the run started, by the purger's clock ([WithClock]).
	At time.Time
	// Took is how long the run took, by the same clock.
	Took time.Duration
	// Purged is how many records the run deleted (what PurgeExpired
	// returned, even with an error: records deleted before a failure stay
	// deleted).
	Purged int64
	// Err is the run's error, nil if it succeeded.
	Err error
	// Interrupted is true if [Purger.Stop] or the cancellation of the
	// context given to [Start] cut the run short. Such a run's Err is the
	// cancellation, and onError does not see it.
	Interrupted bool
}

// PanicError is what onError gets when PurgeExpired panics. The purger
// stops after it.
type PanicError struct {
	// Value is the value the store panicked with.
	Value any
	// Stack is the stack of the purger's goroutine at the panic.
	Stack []byte
}

// Error implements error. It holds the panic value, not the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("purger: PurgeExpired panicked: %v", e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// An Option configures a [Purger].
type Option func(*config)

type config struct {
	ticker     func(time.Duration) (<-chan time.Time, func())
	now        func() time.Time
	onResult   func(Result)
	timeout    time.Duration
	runAtStart bool
}

// WithTicker replaces the ticker: newTicker is called once, from [Start],
// with the interval, and returns the channel of ticks and a function that
// stops them, which the purger calls as its goroutine exits. The default
// is a [time.Ticker]. Tests give a channel they send on.
func WithTicker(newTicker func(interval time.Duration) (ticks <-chan time.Time, stop func())) Option {
	return func(c *config) { c.ticker = newTicker }
}

// WithClock sets the clock that [Result.At] and [Result.Took] are read
// from. The default is [time.Now]. It does not drive the runs: the ticker
// does ([WithTicker]).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// OnResult sets a callback that sees every run, after onError for a failed
// one: for metrics, or a log line per run.
func OnResult(f func(Result)) Option {
	return func(c *config) { c.onResult = f }
}

// WithTimeout cancels a run that takes longer than d; the run fails with
// an error wrapping [context.DeadlineExceeded], which goes to onError.
// Zero, the default, means no bound.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// RunAtStart makes the purger run once at once, before the first tick.
func RunAtStart() Option {
	return func(c *config) { c.runAtStart = true }
}

// Purger runs PurgeExpired in the background; see [Start]. Its zero value
// is not usable.
type Purger struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start starts a goroutine that calls store.PurgeExpired every interval
// until [Purger.Stop] or until ctx is cancelled. Every failed run goes to
// onError, from the purger's goroutine; see the package documentation.
//
// Start refuses ([storage.ErrInvalid]) a nil store, a nil onError, an
// interval that is not positive and a negative timeout.
func Start(ctx context.Context, store Store, interval time.Duration, onError func(error), opts ...Option) (*Purger, error) {
	switch {
	case store == nil:
		return nil, fmt.Errorf("purger: no store: %w", storage.ErrInvalid)
	case onError == nil:
		return nil, fmt.Errorf("purger: no onError callback (errors must go somewhere): %w", storage.ErrInvalid)
	case interval <= 0:
		return nil, fmt.Errorf("purger: interval %v is not positive: %w", interval, storage.ErrInvalid)
	}
	c := config{now: time.Now, ticker: newTicker}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout < 0 {
		return nil, fmt.Errorf("purger: timeout %v is negative: %w", c.timeout, storage.ErrInvalid)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ticker == nil {
		c.ticker = newTicker
	}
	ctx, cancel := context.WithCancel(ctx)
	ticks, stopTicks := c.ticker(interval)
	p := &Purger{cancel: cancel, done: make(chan struct{})}
	r := runner{store: store, onError: onError, config: c}
	go func() {
		defer close(p.done)
		defer cancel()
		if stopTicks != nil {
			defer stopTicks()
		}
		if c.runAtStart && !r.run(ctx) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
			}
			if ctx.Err() != nil || !r.run(ctx) {
				return
			}
		}
	}()
	return p, nil
}

func newTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Stop stops the purger, cancelling a run under way, and returns once its
// goroutine has exited. It may be called more than once, from any
// goroutine, but not from the callbacks.
func (p *Purger) Stop() {
	p.once.Do(p.cancel)
	<-p.done
}

// Done is closed when the purger's goroutine has exited: after
// [Purger.Stop], the cancellation of Start's context, or a panic in the
// store.
func (p *Purger) Done() <-chan struct{} { return p.done }

type runner struct {
	store   Store
	onError func(error)
	config
	runs int
}

// run runs one purge and reports it; false means the store panicked and
// the purger must stop.
func (r *runner) run(ctx context.Context) (ok bool) {
	r.runs++
	res := Result{Run: r.runs, At: r.now()}
	n, panicked, err := r.purge(ctx)
	res.Took = r.now().Sub(res.At)
	res.Purged, res.Err = n, err
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Cut short by Stop or by Start's context: not a failure.
		res.Interrupted = true
	} else if err != nil {
		r.onError(err)
	}
	if r.onResult != nil {
		r.onResult(res)
	}
	return !panicked
}

// purge calls PurgeExpired, with the run's timeout, and turns a panic into
// a *PanicError.
func (r *runner) purge(ctx context.Context) (n int64, panicked bool, err error) {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			n, panicked, err = 0, true, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	n, err = r.store.PurgeExpired(ctx)
	return n, false, err
}
