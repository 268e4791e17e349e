// Command authserver is a demo OAuth 2.0 authorization server: go-oauth2
// (github.com/go-oauth2/oauth2/v4) on an oauthstore backend through the
// integration/gooauth2 adapter.
//
// Usage:
//
//	authserver -walkthrough [-dsn DSN]           walk a grant through its life and print each step
//	authserver [-dsn DSN] [-addr ADDR]           serve
//	authserver [-dsn DSN] create-client -redirect URI [-redirect URI2] [-public] [-scope S]
//	authserver [-dsn DSN] purge                  delete expired codes and tokens once
//
// DSN is memory:, sqlite:PATH (default sqlite:authserver.db), a postgres://
// or postgresql:// URL, mysql://USER:PASSWORD@HOST:PORT/DB or a mongodb://
// URL. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthstore/oauthstore/examples/authserver/app"
	"github.com/oauthstore/oauthstore/examples/authserver/backend"
	"github.com/oauthstore/oauthstore/examples/authserver/walkthrough"
	"github.com/oauthstore/oauthstore/secret"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// hasher hashes client secrets; nil means secret.Default. Tests make it
// cheaper.
var hasher secret.Hasher

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	dsn := fs.String("dsn", "sqlite:authserver.db", "backend: memory:, sqlite:PATH, postgres://…, mysql://USER:PASS@HOST:PORT/DB, mongodb://…")
	addr := fs.String("addr", "127.0.0.1:9096", "listen address")
	walk := fs.Bool("walkthrough", false, "run the server in-process and walk a grant through its life (on a temporary SQLite file unless -dsn is given)")
	purgeEvery := fs.Duration("purge-every", time.Hour, "how often the server deletes expired codes and tokens (0: never)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage:
  authserver -walkthrough [-dsn DSN]
  authserver [-dsn DSN] [-addr ADDR]
  authserver [-dsn DSN] create-client -redirect URI [-redirect URI2] [-public] [-scope SCOPE]
  authserver [-dsn DSN] purge

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	dsnSet := false
	fs.Visit(func(f *flag.Flag) { dsnSet = dsnSet || f.Name == "dsn" })

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *walk {
		o := walkthrough.Options{Out: stdout, Hasher: hasher}
		if dsnSet {
			o.DSN = *dsn
		}
		return walkthrough.Run(ctx, o)
	}

	rest := fs.Args()
	cmd := ""
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, *dsn, *addr, *purgeEvery)
	case "create-client":
		return createClient(ctx, stdout, *dsn, rest)
	case "purge":
		store, closeStore, err := backend.Open(ctx, *dsn, backend.Options{Hasher: hasher})
		if err != nil {
			return err
		}
		defer closeStore()
		n, err := store.PurgeExpired(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d expired codes and tokens\n", n)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

func createClient(ctx context.Context, stdout io.Writer, dsn string, args []string) error {
	fs := flag.NewFlagSet("create-client", flag.ContinueOnError)
	var redirects stringList
	fs.Var(&redirects, "redirect", "an exact redirect URI (repeatable)")
	public := fs.Bool("public", false, "a public client: no secret, PKCE only")
	scope := fs.String("scope", app.DefaultScope, "the space-separated scope the client may get")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(redirects) == 0 {
		return errors.New("create-client: give at least one -redirect URI")
	}
	store, closeStore, err := backend.Open(ctx, dsn, backend.Options{Hasher: hasher})
	if err != nil {
		return err
	}
	defer closeStore()
	id, secret, err := app.CreateClient(ctx, store, app.ClientOptions{RedirectURIs: redirects, Public: *public, Scope: *scope})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "client_id=%s\n", id)
	if secret != "" {
		fmt.Fprintf(stdout, "client_secret=%s\n", secret)
		fmt.Fprintln(stdout, "# The secret is shown only now: the store keeps only a hash of it.")
	} else {
		fmt.Fprintln(stdout, "# Public client: no secret; it must use PKCE.")
	}
	return nil
}

func serve(ctx context.Context, dsn, addr string, purgeEvery time.Duration) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	store, closeStore, err := backend.Open(ctx, dsn, backend.Options{Hasher: hasher})
	if err != nil {
		return err
	}
	defer closeStore()
	hs := &http.Server{Addr: addr, Handler: app.New(app.Config{Store: store, Logger: log}), ReadHeaderTimeout: 10 * time.Second}

	if purgeEvery > 0 {
		go func() {
			t := time.NewTicker(purgeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					// A failed purge is logged and retried at the next tick.
					if n, err := store.PurgeExpired(ctx); err != nil {
						log.Error("purge", "err", err)
					} else if n > 0 {
						log.Info("purged expired codes and tokens", "count", n)
					}
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	log.Info("authserver listening", "addr", "http://"+addr, "dsn", describeDSN(dsn),
		"demo", "GET /authorize signs in demo user "+app.DemoUserID+" and approves automatically")
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func describeDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}
