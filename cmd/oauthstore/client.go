package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// secretBytes is the entropy of a generated client secret.
const secretBytes = 32

// newSecret returns a random client secret: 32 bytes, base64url.
func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newClientID returns a random client ID.
func newClientID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "client-" + hex.EncodeToString(b)
}

const secretNotice = "Client secret (store it now, it cannot be shown again):"

func (a *app) clientCmd() *cobra.Command {
	return group("client", "Create, show, list, update, delete clients and rotate their secrets",
		a.clientCreateCmd(), a.clientShowCmd(), a.clientListCmd(), a.clientUpdateCmd(),
		a.clientDeleteCmd(), a.clientRotateCmd())
}

// registration holds the flags that describe a client.
type registration struct {
	redirectURIs, grants, responseTypes []string
	scope, owner                        string
}

func (r *registration) flags(c *cobra.Command, defaults bool) {
	f := c.Flags()
	f.StringArrayVar(&r.redirectURIs, "redirect-uri", nil, "a redirect URI (repeat for several)")
	var grants, resp []string
	if defaults {
		grants = []string{string(models.GrantAuthorizationCode), string(models.GrantRefreshToken)}
	}
	f.StringArrayVar(&r.grants, "grant", grants, "a grant type: authorization_code, refresh_token, client_credentials or password (repeat for several)")
	respHelp := "a response type: code, token, id_token, none (repeat for several)"
	if defaults {
		respHelp += "; default code if the client has the authorization_code grant"
	}
	f.StringArrayVar(&r.responseTypes, "response-type", resp, respHelp)
	f.StringVar(&r.scope, "scope", "", "the space-separated scopes the client may be granted")
	f.StringVar(&r.owner, "owner", "", "the user ID of the client's owner")
}

// apply sets on c the fields whose flags were given (all of them if all).
func (r *registration) apply(cmd *cobra.Command, c *models.Client, all bool) (changed bool) {
	f := cmd.Flags()
	set := func(name string) bool {
		if f.Changed(name) {
			changed = true
			return true
		}
		return all
	}
	if set("redirect-uri") {
		c.RedirectURIs = nonEmpty(r.redirectURIs)
	}
	if set("grant") {
		c.GrantTypes = nil
		for _, g := range nonEmpty(r.grants) {
			c.GrantTypes = append(c.GrantTypes, models.GrantType(g))
		}
	}
	if set("response-type") {
		c.ResponseTypes = nil
		for _, t := range nonEmpty(r.responseTypes) {
			c.ResponseTypes = append(c.ResponseTypes, models.ResponseType(t))
		}
	}
	if set("scope") {
		c.Scope = r.scope
	}
	if set("owner") {
		c.UserID = r.owner
	}
	return changed
}

// nonEmpty drops empty values, so that --grant "" clears a list.
func nonEmpty(s []string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "" })
}

// secretResult is what create and rotate-secret print.
type secretResult struct {
	Client clientView `json:"client"`
	// ClientSecret is the generated secret, printed this once.
	ClientSecret string `json:"client_secret,omitempty"`
}

func (a *app) printSecretResult(what string, r secretResult) error {
	if a.jsonOut {
		return a.printJSON(r)
	}
	fmt.Fprintf(a.stdout, "%s %s client %q.\n", what, r.Client.kind(), r.Client.ClientID)
	if r.ClientSecret != "" {
		fmt.Fprintf(a.stdout, "%s\n  %s\n", secretNotice, r.ClientSecret)
	}
	return nil
}

func (a *app) clientCreateCmd() *cobra.Command {
	var reg registration
	var id string
	var public bool
	c := &cobra.Command{
		Use:   "create [flags]",
		Short: "Register a client; a confidential client's generated secret is printed once",
		Long: `create registers a client. A confidential client (the default) gets a
generated secret of 32 random bytes, printed once: only its hash is stored,
so it cannot be shown again (rotate-secret makes a new one). --public makes
a client without a secret. The client ID is random unless --id is given.`,
		Example: `  oauthstore client create --id web --redirect-uri https://app.example/cb --scope "read write"
  oauthstore client create --public --redirect-uri http://127.0.0.1/cb --json`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl := &models.Client{ClientID: id}
			if cl.ClientID == "" {
				cl.ClientID = newClientID()
			}
			reg.apply(cmd, cl, true)
			if !cmd.Flags().Changed("response-type") && slices.Contains(cl.GrantTypes, models.GrantAuthorizationCode) {
				cl.ResponseTypes = []models.ResponseType{models.ResponseTypeCode}
			}
			if !public {
				cl.ClientSecret = newSecret()
			}
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := s.CreateClient(ctx, cl); err != nil {
				return err
			}
			stored, err := s.GetClient(ctx, cl.ClientID)
			if err != nil {
				return err
			}
			return a.printSecretResult("Created", secretResult{Client: viewOf(stored), ClientSecret: cl.ClientSecret})
		}),
	}
	reg.flags(c, true)
	c.Flags().StringVar(&id, "id", "", "the client ID (default a random one)")
	c.Flags().BoolVar(&public, "public", false, "a public client, without a secret")
	return c
}

func (a *app) clientShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client (never its secret)",
		Long: `show prints a client's registration. Its secret is never shown: only
whether it has one, and until when the secret replaced by the last rotation
still works.`,
		Args: exactArgs(1, "a client ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			cl, err := s.GetClient(ctx, args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(viewOf(cl))
			}
			return printClient(a.stdout, viewOf(cl))
		}),
	}
}

func (a *app) clientListCmd() *cobra.Command {
	var q storage.ClientQuery
	var all bool
	c := &cobra.Command{
		Use:   "list [flags]",
		Short: "List clients by client ID, a page at a time or all",
		Long: fmt.Sprintf(`list prints the clients in client ID order: a page of at most --limit
(default %d, at most %d) after the client ID --after, or with --all every
client, page by page. When more clients follow a page, the next --after is
printed on stderr (and as "next" with --json).`, storage.DefaultListLimit, storage.MaxListLimit),
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if q.Limit < 0 || q.Limit > storage.MaxListLimit {
				return usageErrorf("--limit %d: between 1 and %d", q.Limit, storage.MaxListLimit)
			}
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			m, err := manager(s)
			if err != nil {
				return err
			}
			views := []clientView{}
			var next string
			for {
				page, err := m.ListClients(ctx, q)
				if err != nil {
					return err
				}
				for _, cl := range page.Clients {
					views = append(views, viewOf(cl))
				}
				next = page.Next
				if !all || next == "" {
					break
				}
				q.After = next
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"clients": views, "next": next})
			}
			t := newTable(a.stdout)
			t.row("CLIENT ID", "TYPE", "OWNER", "GRANT TYPES", "REDIRECT URIS")
			for _, v := range views {
				t.row(v.ClientID, v.kind(), orDash(v.Owner), list(v.GrantTypes), list(v.RedirectURIs))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(a.stderr, "More clients follow: --after %s\n", next)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&q.After, "after", "", "list the clients whose ID sorts after this one")
	c.Flags().IntVar(&q.Limit, "limit", 0, fmt.Sprintf("the most clients a page holds (default %d)", storage.DefaultListLimit))
	c.Flags().StringVar(&q.UserID, "owner", "", "only the clients of this owner (user ID)")
	c.Flags().BoolVar(&all, "all", false, "list every client, page by page")
	return c
}

func (a *app) clientUpdateCmd() *cobra.Command {
	var reg registration
	var public bool
	c := &cobra.Command{
		Use:   "update CLIENT_ID [flags]",
		Short: "Change the fields of a client given by flags",
		Long: `update replaces the fields given by flags and keeps the others: a
repeatable flag replaces the whole list (give it "" to empty the list).
--public removes the client's secrets, current and previous, at once; to
give a public client a secret use rotate-secret.`,
		Example: `  oauthstore client update web --redirect-uri https://a.example/cb --redirect-uri https://b.example/cb
  oauthstore client update web --public`,
		Args: exactArgs(1, "a client ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			probe := &models.Client{}
			if !reg.apply(cmd, probe, false) && !public {
				return usageErrorf("nothing to update: give a flag (see --help)")
			}
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			m, err := manager(s)
			if err != nil {
				return err
			}
			cl, err := s.GetClient(ctx, args[0])
			if err != nil {
				return err
			}
			if reg.apply(cmd, cl, false) {
				cl.SecretHash = ""
				cl.PreviousSecretValidUntil = time.Time{}
				if err := m.UpdateClient(ctx, cl); err != nil {
					return err
				}
			}
			if public {
				if err := m.RemoveClientSecrets(ctx, cl.ClientID); err != nil {
					return err
				}
			}
			stored, err := s.GetClient(ctx, cl.ClientID)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(viewOf(stored))
			}
			fmt.Fprintf(a.stdout, "Updated client %q.\n", stored.ClientID)
			return printClient(a.stdout, viewOf(stored))
		}),
	}
	reg.flags(c, false)
	c.Flags().BoolVar(&public, "public", false, "make the client public: its secrets stop working at once")
	return c
}

func (a *app) clientDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and every code and token issued to it",
		Args:  exactArgs(1, "a client ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(s storage.Storage) error {
				if err := s.DeleteClient(ctx, args[0]); err != nil {
					return err
				}
				return a.result(map[string]any{"deleted": args[0]}, "Deleted client %q and its codes and tokens.", args[0])
			})
		}),
	}
}

func (a *app) clientRotateCmd() *cobra.Command {
	var overlap time.Duration
	c := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--overlap DURATION]",
		Short: "Give a client a new generated secret, printed once",
		Long: `rotate-secret gives the client a new generated secret, valid at once and
printed once. The secret it had stays valid for --overlap (default 0: it
stops working at once), so that every deployment of the client can switch
over. A public client becomes confidential.`,
		Example: `  oauthstore client rotate-secret web --overlap 24h`,
		Args:    exactArgs(1, "a client ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if overlap < 0 {
				return usageErrorf("--overlap %v is negative", overlap)
			}
			s, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			m, err := manager(s)
			if err != nil {
				return err
			}
			var until time.Time
			if overlap > 0 {
				until = a.now().Add(overlap)
			}
			sec := newSecret()
			if err := m.RotateClientSecret(ctx, args[0], sec, until); err != nil {
				return err
			}
			stored, err := s.GetClient(ctx, args[0])
			if err != nil {
				return err
			}
			v := viewOf(stored)
			if a.jsonOut {
				return a.printJSON(secretResult{Client: v, ClientSecret: sec})
			}
			if err := a.printSecretResult("Rotated the secret of", secretResult{Client: v, ClientSecret: sec}); err != nil {
				return err
			}
			if v.PreviousSecretValidUntil != nil {
				fmt.Fprintf(a.stdout, "The previous secret stays valid until %s.\n", stamp(*v.PreviousSecretValidUntil))
			} else {
				fmt.Fprintln(a.stdout, "The previous secret, if any, no longer works.")
			}
			return nil
		}),
	}
	c.Flags().DurationVar(&overlap, "overlap", 0, "how long the previous secret stays valid, as 24h")
	return c
}
