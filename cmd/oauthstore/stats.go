package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/storage"
)

// statsCmd prints the store's counts.
func (a *app) statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Count clients, codes and tokens by state and by client",
		Long: `stats counts the clients, and the codes and token pairs by state, in total
and per client ID, by the store's clock. Codes are live (unused and
unexpired), used, or expired; token pairs are live, revoked, or expired.`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			r, ok := s.(storage.StatsReporter)
			if !ok {
				return fmt.Errorf("this backend (%T) does not support stats (storage.StatsReporter)", s)
			}
			st, err := r.Stats(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(statsJSON(st))
			}
			fmt.Fprintf(a.stdout, "Clients: %d\n\n", st.Clients)
			t := newTable(a.stdout)
			t.row("CLIENT ID", "LIVE CODES", "USED CODES", "EXPIRED CODES", "LIVE TOKENS", "REVOKED TOKENS", "EXPIRED TOKENS")
			row := func(name string, c storage.RecordCounts) {
				t.row(name, fmt.Sprint(c.LiveCodes), fmt.Sprint(c.UsedCodes), fmt.Sprint(c.ExpiredCodes),
					fmt.Sprint(c.LiveTokens), fmt.Sprint(c.RevokedTokens), fmt.Sprint(c.ExpiredTokens))
			}
			for _, c := range st.ByClient {
				row(c.ClientID, c.RecordCounts)
			}
			row("TOTAL", st.Total)
			return t.flush()
		}),
	}
}

type countsJSON struct {
	ClientID      string `json:"client_id,omitempty"`
	LiveCodes     int64  `json:"live_codes"`
	UsedCodes     int64  `json:"used_codes"`
	ExpiredCodes  int64  `json:"expired_codes"`
	LiveTokens    int64  `json:"live_tokens"`
	RevokedTokens int64  `json:"revoked_tokens"`
	ExpiredTokens int64  `json:"expired_tokens"`
}

func countsOf(id string, c storage.RecordCounts) countsJSON {
	return countsJSON{ClientID: id, LiveCodes: c.LiveCodes, UsedCodes: c.UsedCodes, ExpiredCodes: c.ExpiredCodes,
		LiveTokens: c.LiveTokens, RevokedTokens: c.RevokedTokens, ExpiredTokens: c.ExpiredTokens}
}

func statsJSON(st *storage.Stats) map[string]any {
	by := []countsJSON{}
	for _, c := range st.ByClient {
		by = append(by, countsOf(c.ClientID, c.RecordCounts))
	}
	return map[string]any{"clients": st.Clients, "total": countsOf("", st.Total), "by_client": by}
}
