package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Exit codes, documented in the root command's help and the README.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3
	exitConflict = 4
)

const exitCodesHelp = `Exit codes:
  0  success
  1  error (database unreachable, a failed purge round, ...)
  2  usage: unknown command or flag, wrong arguments, no --dsn
  3  not found: no such client, token or grant
  4  conflict or invalid: the client ID is taken, or a value was refused`

// dsnEnv names the variable that gives the DSN when --dsn is not set.
const dsnEnv = "OAUTHSTORE_DSN"

func main() {
	// The first SIGINT or SIGTERM cancels the command's context (purge
	// --every stops after its round); a second one kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := newApp(os.Stdin, os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app is one invocation of the command: its streams and the dependencies
// tests replace.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is the clock of the store and of every instant the command
	// computes.
	now func() time.Time
	// hasher hashes client secrets.
	hasher secret.Hasher
	// open opens the store a DSN names.
	open func(ctx context.Context, d string, opts ...dsn.Option) (storage.Storage, func() error, error)
	// ticker returns the ticks of purge --every and a function that stops
	// them.
	ticker func(d time.Duration) (<-chan time.Time, func())
	// afterRound, if set, is called after each purge round (tests).
	afterRound func()

	// Set from the persistent flags.
	dsn     string
	jsonOut bool
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv: os.Getenv,
		now:    time.Now,
		hasher: secret.Default(),
		open:   dsn.Open,
		ticker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
}

// codedError carries the exit code of an error.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// usageErrorf returns a usage error (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &codedError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// ranError marks an error returned by a command's own code, as opposed to
// cobra's parsing of the command line (always a usage error).
type ranError struct{ err error }

func (e *ranError) Error() string { return e.err.Error() }
func (e *ranError) Unwrap() error { return e.err }

// exitCode classifies err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	var re *ranError
	if !errors.As(err, &re) {
		return exitUsage // from cobra: flags, arguments, unknown command
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return exitNotFound
	case errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, storage.ErrInvalid):
		return exitConflict
	}
	return exitError
}

// run runs the command line args and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if a.jsonOut {
		b, _ := json.Marshal(map[string]any{"error": err.Error(), "exit_code": code})
		fmt.Fprintln(a.stderr, string(b))
		return code
	}
	fmt.Fprintf(a.stderr, "oauthstore: %v\n", err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// runE adapts a command body: its errors are the command's, classified by
// the storage sentinel they wrap.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &ranError{err: err}
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with a message naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%q takes %s (got %d arguments)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "oauthstore",
		Short: "Operate an oauthstore database: migrations, purges, clients, revocation, statistics",
		Long: `oauthstore operates the database of an OAuth 2.0 server built on oauthstore.

The backend is given by --dsn, or by the ` + dsnEnv + ` environment variable
(which keeps a database password off the command line and out of the
process list):
  sqlite:PATH
  postgres://USER:PASS@HOST:PORT/DB?sslmode=disable
  mysql://USER:PASS@HOST:PORT/DB         (MySQL 8 or MariaDB 10.5+)
  mongodb://USER:PASS@HOST:PORT/DB       (MongoDB or FerretDB)
  memory:                                (an empty in-process store)

A server that keys its digests (WithDigestKeys) must give this command the
same keys, or it finds none of the server's codes and tokens: set
` + secret.KeysEnv + ` to them, base64, comma-separated, current first.

Every command except migrate creates or upgrades the schema (SQL) or the
indexes (MongoDB) when it opens the store, as the example server does.

Output is text by default and JSON with --json; with --json an error is
printed on stderr as {"error": ..., "exit_code": ...}. No output and no
error contains a secret, code or token, except the client secret that
client create and client rotate-secret generate, printed once.

` + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Help()
			return usageErrorf("no command given")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVar(&a.dsn, "dsn", "", "the database, as sqlite:PATH, postgres://…, mysql://…, mongodb://… (default $"+dsnEnv+")")
	root.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print machine-readable JSON")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &codedError{code: exitUsage, err: err}
	})
	root.AddCommand(a.migrateCmd(), a.purgeCmd(), a.clientCmd(), a.revokeCmd(), a.statsCmd())
	return root
}

// noArgs rejects arguments; on a command that only groups subcommands it
// reports an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return usageErrorf("%q takes no arguments", cmd.CommandPath())
	}
	return nil
}

// group returns a command that only holds subcommands: run alone it prints
// its help on stderr and is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help()
			return usageErrorf("%q needs a subcommand", cmd.CommandPath())
		},
	}
	c.AddCommand(subs...)
	return c
}

// dsnValue returns the DSN of --dsn or $OAUTHSTORE_DSN.
func (a *app) dsnValue() (string, error) {
	d := a.dsn
	if d == "" {
		d = a.getenv(dsnEnv)
	}
	if d == "" {
		return "", usageErrorf("no database: set --dsn or %s (%s)", dsnEnv, dsn.Schemes)
	}
	return d, nil
}

// openStore opens the store of the DSN; the caller calls the returned
// function once done.
func (a *app) openStore(ctx context.Context) (storage.Storage, func(), error) {
	d, err := a.dsnValue()
	if err != nil {
		return nil, nil, err
	}
	opts := []dsn.Option{dsn.WithClock(a.now), dsn.WithHasher(a.hasher)}
	if text := a.getenv(secret.KeysEnv); text != "" {
		keys, err := secret.ParseKeyed(text)
		if err != nil {
			return nil, nil, usageErrorf("%s: %v", secret.KeysEnv, err)
		}
		opts = append(opts, dsn.WithDigestKeys(keys))
	}
	s, closeFn, err := a.open(ctx, d, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		if err := closeFn(); err != nil {
			fmt.Fprintf(a.stderr, "oauthstore: closing the database: %v\n", err)
		}
	}, nil
}

// withStore opens the store of the DSN, runs fn on it and closes it.
func (a *app) withStore(ctx context.Context, fn func(s storage.Storage) error) error {
	s, done, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	return fn(s)
}

// result prints the outcome of a command: v as JSON with --json, else the
// line format makes of args.
func (a *app) result(v any, format string, args ...any) error {
	if a.jsonOut {
		return a.printJSON(v)
	}
	fmt.Fprintf(a.stdout, format+"\n", args...)
	return nil
}

// manager returns the store's client management (part of every
// storage.Storage).
func manager(s storage.Storage) (storage.ClientManager, error) { return s, nil }

// printJSON prints v as indented JSON on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
