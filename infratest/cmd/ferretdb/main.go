// Command ferretdb runs FerretDB v1 (the embeddable
// github.com/FerretDB/FerretDB/ferretdb package) as a stand-alone server
// speaking the MongoDB wire protocol. It is what the
// oauthstore-test/ferretdb image runs, and a way for tests to run FerretDB
// as a child process.
//
// It exists because FerretDB's own cmd/ferretdb, built from the module
// cache, panics at start: the module zip lacks build/version/version.txt,
// which that command checks when it is the main module. The embeddable
// package has no such check.
//
// Usage:
//
//	ferretdb [--listen-addr 127.0.0.1:27017] [--handler postgresql|sqlite]
//	         [--postgresql-url URL] [--sqlite-url file:DIR/] [--state-dir DIR]
//	         [--log-level debug|info|warn|error]
//
// The PostgreSQL handler stores everything in the database of
// --postgresql-url, which must exist. The SQLite handler keeps one file per
// database in the directory of --sqlite-url (default: file:STATE-DIR/sqlite/).
// The embeddable package keeps FerretDB's own state (telemetry settings,
// instance ID) in memory, so --state-dir is only the base of the SQLite
// default; it is created if missing. FerretDB stops, closing its listener
// and backend, on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

type config struct {
	listenAddr    string
	handler       string
	postgresqlURL string
	sqliteURL     string
	stateDir      string
	logLevel      string
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	c := new(config)
	fs.StringVar(&c.listenAddr, "listen-addr", "127.0.0.1:27017", "TCP address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&c.handler, "handler", "postgresql", "backend: postgresql or sqlite")
	fs.StringVar(&c.postgresqlURL, "postgresql-url", "postgres://127.0.0.1:5432/ferretdb", "PostgreSQL URL of the postgresql handler (the database must exist)")
	fs.StringVar(&c.sqliteURL, "sqlite-url", "", "SQLite directory URI of the sqlite handler, like file:data/ (default file:STATE-DIR/sqlite/)")
	fs.StringVar(&c.stateDir, "state-dir", ".", "directory for FerretDB's files; base of the sqlite handler's default directory")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch c.handler {
	case "postgresql":
		if c.postgresqlURL == "" {
			return nil, errors.New("--handler=postgresql needs --postgresql-url")
		}
	case "sqlite":
		if c.sqliteURL == "" {
			c.sqliteURL = "file:" + filepath.Join(c.stateDir, "sqlite") + "/"
		}
		if !strings.HasPrefix(c.sqliteURL, "file:") || !strings.HasSuffix(c.sqliteURL, "/") {
			return nil, fmt.Errorf("--sqlite-url %q: want a directory URI like file:data/", c.sqliteURL)
		}
	default:
		return nil, fmt.Errorf("--handler %q: want postgresql or sqlite", c.handler)
	}
	if c.listenAddr == "" {
		return nil, errors.New("--listen-addr is empty")
	}
	return c, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// run serves until ctx is canceled, calling ready with the server's
// mongodb:// URI once it listens.
func run(ctx context.Context, c *config, ready func(uri string)) error {
	level, err := parseLevel(c.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	if c.handler == "sqlite" {
		dir := strings.TrimPrefix(c.sqliteURL, "file:")
		if i := strings.IndexByte(dir, '?'); i >= 0 {
			dir = dir[:i]
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("--sqlite-url: %w", err)
		}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: c.listenAddr},
		Logger:        logger,
		Handler:       c.handler,
		PostgreSQLURL: c.postgresqlURL,
		SQLiteURL:     c.sqliteURL,
	})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	// MongoDBURI blocks until Run has opened the listener.
	ready(f.MongoDBURI())
	return <-done
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := func(uri string) {
		// A line a parent process may wait for (the URI holds no
		// credential).
		fmt.Fprintf(os.Stderr, "ferretdb: listening, %s handler, %s\n", c.handler, uri)
	}
	if err := run(ctx, c, ready); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}
