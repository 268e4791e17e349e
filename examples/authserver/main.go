// Command authserver is an example OAuth 2.0 authorization server: go-oauth2
// (github.com/go-oauth2/oauth2/v4) on an oauthstore backend through the
// integration/gooauth2 adapter. It is an example to read and copy, not a
// product: it has no login page.
//
// Usage:
//
//	authserver -walkthrough [-dsn DSN]           walk a grant through its life and print each step
//	authserver [-dsn DSN] [-addr ADDR] [-unsafe-auto-approve] [-unsafe-listen-any]
//	                                             serve
//	authserver [-dsn DSN] create-client [-redirect URI]... [-public] [-scope S] [-resource-server]
//	authserver [-dsn DSN] purge                  delete expired codes and tokens once
//
// DSN is memory:, sqlite:PATH (default sqlite:authserver.db), a postgres://
// or postgresql:// URL, mysql://USER:PASSWORD@HOST:PORT/DB or a mongodb://
// URL. See README.md. With OAUTHSTORE_DIGEST_KEYS set (base64 keys of at
// least 32 bytes, comma-separated, current first), codes and tokens are
// stored under keyed digests (secret.ParseKeyed, WithDigestKeys).
//
// Served as is, /authorize refuses every request (access_denied): there is
// no one to sign in. -unsafe-auto-approve signs in the demo user and
// approves every request, and offers the password grant with hard-coded
// demo credentials: anyone who reaches the server gets the demo user's
// tokens. The server listens on loopback addresses only, unless
// -unsafe-listen-any says otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/app"
	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
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

// serveOptions are the flags of the serve command.
type serveOptions struct {
	dsn, addr         string
	purgeEvery        time.Duration
	unsafeAutoApprove bool
	unsafeListenAny   bool
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	var o serveOptions
	fs.StringVar(&o.dsn, "dsn", "sqlite:authserver.db", "backend: "+dsn.Schemes)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9096", "listen address: a loopback address unless -unsafe-listen-any")
	walk := fs.Bool("walkthrough", false, "run the server in-process and walk a grant through its life (on a temporary SQLite file unless -dsn is given)")
	fs.DurationVar(&o.purgeEvery, "purge-every", time.Hour, "how often the server deletes expired codes and tokens (0: never)")
	fs.BoolVar(&o.unsafeAutoApprove, "unsafe-auto-approve", false,
		"UNSAFE, local demo only: /authorize signs in user "+app.DemoUserID+" and approves every request, and the password grant accepts "+app.DemoUsername+"/"+app.DemoPassword)
	fs.BoolVar(&o.unsafeListenAny, "unsafe-listen-any", false, "UNSAFE: allow an -addr that is not a loopback address (0.0.0.0, a public IP, a host name other than localhost)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage:
  authserver -walkthrough [-dsn DSN]
  authserver [-dsn DSN] [-addr ADDR] [-unsafe-auto-approve] [-unsafe-listen-any]
  authserver [-dsn DSN] create-client [-redirect URI]... [-public] [-scope SCOPE] [-resource-server]
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
		wo := walkthrough.Options{Out: stdout, Hasher: hasher}
		if dsnSet {
			wo.DSN = o.dsn
		}
		return walkthrough.Run(ctx, wo)
	}

	rest := fs.Args()
	cmd := ""
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "", "serve":
		if len(rest) > 0 {
			return fmt.Errorf("serve: unexpected arguments %q (flags go before the command)", rest)
		}
		return serve(ctx, o)
	case "create-client":
		return createClient(ctx, stdout, o.dsn, rest)
	case "purge":
		store, closeStore, err := openStore(ctx, o.dsn)
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

func createClient(ctx context.Context, stdout io.Writer, d string, args []string) error {
	fs := flag.NewFlagSet("create-client", flag.ContinueOnError)
	var redirects stringList
	fs.Var(&redirects, "redirect", "an exact redirect URI (repeatable; needed for the authorization code grant)")
	public := fs.Bool("public", false, "a public client: no secret, PKCE only")
	scope := fs.String("scope", app.DefaultScope, "the space-separated scope the client may get")
	resourceServer := fs.Bool("resource-server", false, "a resource server: it may introspect every token, not only its own")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("create-client: unexpected arguments %q", fs.Args())
	}
	if len(redirects) == 0 && !*resourceServer {
		return errors.New("create-client: give at least one -redirect URI (or -resource-server for a client that only introspects)")
	}
	store, closeStore, err := openStore(ctx, d)
	if err != nil {
		return err
	}
	defer closeStore()
	id, secret, err := app.CreateClient(ctx, store, app.ClientOptions{RedirectURIs: redirects, Public: *public, Scope: *scope, ResourceServer: *resourceServer})
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
	if *resourceServer {
		fmt.Fprintln(stdout, "# Resource server: it may introspect every token.")
	}
	return nil
}

// openStore opens the store of d, with keyed digests if the environment
// variable secret.KeysEnv gives keys (base64, comma-separated, current
// first).
func openStore(ctx context.Context, d string) (storage.Storage, func() error, error) {
	opts := []dsn.Option{dsn.WithHasher(hasher)}
	if text := os.Getenv(secret.KeysEnv); text != "" {
		keys, err := secret.ParseKeyed(text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", secret.KeysEnv, err)
		}
		opts = append(opts, dsn.WithDigestKeys(keys))
	}
	return dsn.Open(ctx, d, opts...)
}

// checkListenAddr refuses an address that is not a loopback one (an IP
// literal such as 127.0.0.1 or ::1, or localhost) unless allowAny.
func checkListenAddr(addr string, allowAny bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if allowAny {
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := "not a loopback address"
	if host == "" {
		what = "every interface"
	}
	return fmt.Errorf("-addr %q: %s; this example server listens on loopback addresses only (127.0.0.1, ::1, localhost) unless -unsafe-listen-any is given", addr, what)
}

func serve(ctx context.Context, o serveOptions) error {
	if err := checkListenAddr(o.addr, o.unsafeListenAny); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	store, closeStore, err := openStore(ctx, o.dsn)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg := app.Config{Store: store, Logger: log}
	if o.unsafeAutoApprove {
		cfg.UnsafeAutoApproveAs = app.DemoUserID
	}
	srv, err := app.New(cfg)
	if err != nil {
		return err
	}
	hs := &http.Server{Addr: o.addr, Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	if o.purgeEvery > 0 {
		go func() {
			t := time.NewTicker(o.purgeEvery)
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
	if o.unsafeListenAny {
		log.Warn("UNSAFE: -unsafe-listen-any: listening on a non-loopback address is allowed", "addr", o.addr)
	}
	authorize := "no login page: every authorization request is refused (access_denied); -unsafe-auto-approve for a local demo"
	if o.unsafeAutoApprove {
		authorize = "UNSAFE DEMO (-unsafe-auto-approve): signs in " + app.DemoUserID + " and approves every request; password grant with the demo credentials"
		log.Warn("UNSAFE: -unsafe-auto-approve: anyone who reaches this server gets tokens for " + app.DemoUserID)
	}
	log.Info("authserver listening", "addr", "http://"+o.addr, "dsn", dsn.Redact(o.dsn), "authorize", authorize)
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
