// Package purger deletes expired authorization codes and tokens in the
// background, for any store: it calls PurgeExpired, which every
// [storage.Storage] has, at a fixed interval until stopped.
//
//	p, err := purger.Start(ctx, store, 10*time.Minute, func(err error) {
//		metrics.PurgeFailed(err) // or the application's logger
//	})
//	if err != nil {
//		return err
//	}
//	defer p.Stop() // before closing the store
//
// # Runs
//
// One goroutine runs the purges, one at a time: a tick that comes while a
// purge is running is dropped, as [time.Ticker] drops them, so runs never
// overlap. [RunAtStart] adds a run at once; [WithTimeout] bounds each run.
// [WithTicker] and [WithClock] replace the ticker and the clock, so that
// tests drive the purger tick by tick without sleeping.
//
// # Errors
//
// Every failed run goes to the onError callback, which [Start] requires:
// the purger never logs, never drops an error and never exits the process.
// A failed run is retried at the next tick. [OnResult], if given, sees
// every run, failed or not, with how many records it deleted.
//
// A panic in PurgeExpired is recovered and reported to onError as a
// [*PanicError] (which carries the stack), and the purger stops: a store
// that panicked may hold a lock, and a next run could block forever.
// [Purger.Done] is then closed; [Purger.Stop] still returns at once.
//
// # Stopping
//
// [Purger.Stop] cancels a run under way (records deleted so far stay
// deleted), waits for the goroutine to exit and may be called any number
// of times, from any goroutine. Cancelling the context given to [Start]
// stops the purger too: give it a context that lives as long as the
// server, not a request's. A run cut short by either is not a failure: it
// goes to [OnResult] marked Interrupted, not to onError.
//
// The callbacks run on the purger's goroutine, one at a time. They must
// not call [Purger.Stop], which waits for them.
package purger
