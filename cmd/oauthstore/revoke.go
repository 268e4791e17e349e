package main

import (
	"bufio"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/storage"
)

func (a *app) revokeCmd() *cobra.Command {
	return group("revoke", "Revoke a token, a grant, or every token of a client",
		a.revokeTokenCmd(), a.revokeGrantCmd(), a.revokeClientCmd())
}

func (a *app) revokeTokenCmd() *cobra.Command {
	var stdin bool
	c := &cobra.Command{
		Use:   "token (TOKEN | --stdin)",
		Short: "Revoke the token pair an access or refresh token belongs to",
		Long: `token revokes the pair (access and refresh token) that the token belongs
to. Prefer --stdin, which reads the token from the first line of standard
input: a token given as an argument is seen in the shell's history and the
process list. The token is never printed.`,
		Example: `  printf '%s\n' "$TOKEN" | oauthstore revoke token --stdin`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case stdin && len(args) > 0:
				return usageErrorf("give the token either as an argument or with --stdin, not both")
			case !stdin && len(args) != 1:
				return usageErrorf("%q takes a token, or --stdin", cmd.CommandPath())
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var tok string
			if stdin {
				line, err := bufio.NewReader(a.stdin).ReadString('\n')
				if err != nil && line == "" {
					return usageErrorf("--stdin: no token on standard input")
				}
				tok = strings.TrimSpace(line)
			} else {
				tok = args[0]
			}
			if tok == "" {
				return usageErrorf("the token is empty")
			}
			return a.withStore(ctx, func(s storage.Storage) error {
				if err := s.RevokeToken(ctx, tok); err != nil {
					return err
				}
				return a.result(map[string]any{"revoked": "token"}, "Revoked the token pair.")
			})
		}),
	}
	c.Flags().BoolVar(&stdin, "stdin", false, "read the token from standard input")
	return c
}

func (a *app) revokeGrantCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "grant GRANT_ID",
		Short: "Revoke every token of a grant and make its unused codes unusable",
		Args:  exactArgs(1, "a grant ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(s storage.Storage) error {
				if err := s.RevokeGrant(ctx, args[0]); err != nil {
					return err
				}
				return a.result(map[string]any{"revoked": "grant", "grant_id": args[0]}, "Revoked grant %q.", args[0])
			})
		}),
	}
}

func (a *app) revokeClientCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "client CLIENT_ID",
		Short: "Revoke every token and unused code of a client, keeping the client",
		Long: `client revokes every token issued to the client and makes its unused
authorization codes unusable; the client stays registered (rotate its
secret too if it leaked).`,
		Args: exactArgs(1, "a client ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(s storage.Storage) error {
				if err := s.RevokeClientTokens(ctx, args[0]); err != nil {
					return err
				}
				return a.result(map[string]any{"revoked": "client", "client_id": args[0]},
					"Revoked every token and code of client %q.", args[0])
			})
		}),
	}
}
