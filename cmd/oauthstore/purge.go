package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/purger"
)

// roundJSON is one line of purge's JSON output.
type roundJSON struct {
	Round  int       `json:"round"`
	At     time.Time `json:"at"`
	Purged int64     `json:"purged"`
	Error  string    `json:"error,omitempty"`
}

// summaryJSON is the last line of purge --every's JSON output.
type summaryJSON struct {
	Rounds       int   `json:"rounds"`
	FailedRounds int   `json:"failed_rounds"`
	Purged       int64 `json:"purged"`
	LastFailed   bool  `json:"last_failed"`
}

func (a *app) purgeCmd() *cobra.Command {
	var every time.Duration
	c := &cobra.Command{
		Use:   "purge [--every DURATION]",
		Short: "Delete expired codes and tokens, once or every interval",
		Long: `purge deletes every authorization code past its expiry and every token
pair whose lifetimes have both ended, and prints how many records it
deleted. Revoked tokens are kept until they expire (to detect reuse);
clients are never purged.

With --every it purges at once and then every interval until interrupted
(SIGINT or SIGTERM), printing each round's count (with --json one JSON
object a line, then a summary). A failed round is reported and the next
one runs; the command exits 1 if the last round failed.`,
		Example: `  oauthstore purge
  oauthstore purge --every 10m --json`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if every < 0 || (cmd.Flags().Changed("every") && every < time.Second) {
				return usageErrorf("--every %v: at least 1s", every)
			}
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			if every == 0 {
				n, err := s.PurgeExpired(ctx)
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.printJSON(map[string]any{"purged": n})
				}
				fmt.Fprintf(a.stdout, "Purged %d expired records.\n", n)
				return nil
			}

			var sum summaryJSON
			var lastErr, writeErr error
			if !a.jsonOut {
				fmt.Fprintf(a.stdout, "Purging every %v until interrupted.\n", every)
			}
			// The purger stops when ctx ends (the signal), or when a
			// round's line cannot be written.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			round := func(res purger.Result) {
				if res.Interrupted {
					return // cut short by the signal: not a round
				}
				sum.Rounds++
				sum.Purged += res.Purged
				lastErr = res.Err
				r := roundJSON{Round: sum.Rounds, At: res.At.UTC(), Purged: res.Purged}
				if res.Err != nil {
					sum.FailedRounds++
					r.Error = res.Err.Error()
				}
				switch {
				case a.jsonOut:
					if err := a.printJSONLine(r); err != nil {
						writeErr = err
						cancel()
					}
				case res.Err != nil:
					fmt.Fprintf(a.stderr, "%s round %d failed: %v\n", stamp(res.At), r.Round, res.Err)
				default:
					fmt.Fprintf(a.stdout, "%s round %d: purged %d expired records (%d in all)\n", stamp(res.At), r.Round, res.Purged, sum.Purged)
				}
				if a.afterRound != nil {
					a.afterRound()
				}
			}
			// Failures are reported by round, with the rest of each round.
			p, err := purger.Start(ctx, s, every, func(error) {}, purger.RunAtStart(),
				purger.WithTicker(a.ticker), purger.WithClock(a.now), purger.OnResult(round))
			if err != nil {
				return err
			}
			<-p.Done()
			p.Stop()
			if writeErr != nil {
				return writeErr
			}
			sum.LastFailed = lastErr != nil
			if a.jsonOut {
				if err := a.printJSONLine(sum); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "Stopped after %d rounds: purged %d expired records, %d rounds failed.\n", sum.Rounds, sum.Purged, sum.FailedRounds)
			}
			if lastErr != nil {
				return &codedError{code: exitError, err: fmt.Errorf("the last purge round failed: %w", lastErr)}
			}
			return nil
		}),
	}
	c.Flags().DurationVar(&every, "every", 0, "purge every interval (as 10m) until interrupted")
	return c
}

// printJSONLine prints v as one line of JSON.
func (a *app) printJSONLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}
