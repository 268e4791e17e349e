package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oauthstore/oauthstore/models"
)

// table writes aligned columns.
type table struct{ w *tabwriter.Writer }

func newTable(w io.Writer) *table {
	return &table{w: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.w.Flush() }

// clientView is a client as the command prints it: never a secret nor its
// hash.
type clientView struct {
	ClientID      string   `json:"client_id"`
	Public        bool     `json:"public"`
	Secret        string   `json:"secret"` // "set" or "none"
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	RedirectURIs  []string `json:"redirect_uris"`
	Scope         string   `json:"scope"`
	Owner         string   `json:"owner"`
	// PreviousSecretValidUntil is when the secret replaced by the last
	// rotation stops working; absent if it already has.
	PreviousSecretValidUntil *time.Time `json:"previous_secret_valid_until,omitempty"`
}

func viewOf(c *models.Client) clientView {
	v := clientView{
		ClientID:      c.ClientID,
		Public:        c.IsPublic(),
		Secret:        "none",
		GrantTypes:    []string{},
		ResponseTypes: []string{},
		RedirectURIs:  append([]string{}, c.RedirectURIs...),
		Scope:         c.Scope,
		Owner:         c.UserID,
	}
	if c.SecretHash != "" {
		v.Secret = "set"
	}
	for _, g := range c.GrantTypes {
		v.GrantTypes = append(v.GrantTypes, string(g))
	}
	for _, r := range c.ResponseTypes {
		v.ResponseTypes = append(v.ResponseTypes, string(r))
	}
	if !c.PreviousSecretValidUntil.IsZero() {
		t := c.PreviousSecretValidUntil.UTC()
		v.PreviousSecretValidUntil = &t
	}
	return v
}

func (v clientView) kind() string {
	if v.Public {
		return "public"
	}
	return "confidential"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func list(s []string) string { return orDash(strings.Join(s, ", ")) }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// printClient prints a client as key: value lines.
func printClient(w io.Writer, v clientView) error {
	t := newTable(w)
	t.row("Client ID:", v.ClientID)
	t.row("Type:", v.kind())
	t.row("Secret:", v.Secret)
	prev := "none"
	if v.PreviousSecretValidUntil != nil {
		prev = "valid until " + stamp(*v.PreviousSecretValidUntil)
	}
	t.row("Previous secret:", prev)
	t.row("Grant types:", list(v.GrantTypes))
	t.row("Response types:", list(v.ResponseTypes))
	t.row("Redirect URIs:", list(v.RedirectURIs))
	t.row("Scope:", orDash(v.Scope))
	t.row("Owner:", orDash(v.Owner))
	return t.flush()
}
