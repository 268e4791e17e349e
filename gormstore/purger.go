package gormstore

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Purger runs [Store.PurgeExpired] in the background; see
// [Store.StartPurger]. Its zero value is not usable.
type Purger struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// StartPurger starts a goroutine that calls [Store.PurgeExpired] every
// interval until [Purger.Stop]. Errors go to onError (which may be nil to
// drop them), from the purger's goroutine; a failed run is retried at the
// next tick. It never logs and never exits the process. onError must not
// call [Purger.Stop], which waits for it. Interval must be positive, as for
// [time.NewTicker].
func (s *Store) StartPurger(interval time.Duration, onError func(error)) *Purger {
	t := time.NewTicker(interval)
	return s.startPurger(t.C, t.Stop, onError, nil)
}

// startPurger runs a purge at every tick. afterRun, if not nil, sees each
// run's outcome (tests synchronise on it); stopTicks is called on exit.
func (s *Store) startPurger(ticks <-chan time.Time, stopTicks func(), onError func(error), afterRun func(int64, error)) *Purger {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Purger{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer stopTicks()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
			}
			n, err := s.PurgeExpired(ctx)
			if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
				// Stopped mid-run: not a failure to report.
				err = nil
			}
			if err != nil && onError != nil {
				onError(err)
			}
			if afterRun != nil {
				afterRun(n, err)
			}
		}
	}()
	return p
}

// Stop stops the purger, cancelling a purge under way (rows deleted so far
// stay deleted), and returns once its goroutine has exited. It may be
// called more than once, from any goroutine.
func (p *Purger) Stop() {
	p.once.Do(p.cancel)
	<-p.done
}
