package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/dsn"
)

func (a *app) migrateCmd() *cobra.Command {
	return group("migrate", "Create or upgrade the schema, show its version, print its SQL",
		a.migrateUpCmd(), a.migrateStatusCmd(), a.migrateSQLCmd())
}

// schemaStatus is what migrate status and migrate up print.
type schemaStatus struct {
	Backend string `json:"backend"`
	// Installed is the version recorded in the database (0: no schema);
	// nil for a backend without schema versions.
	Installed *int `json:"installed_version"`
	// Binary is the version this command reads and writes.
	Binary   int    `json:"binary_version"`
	UpToDate bool   `json:"up_to_date"`
	Note     string `json:"note,omitempty"`
	// Previous is, for migrate up, the version before it ran.
	Previous *int `json:"previous_version,omitempty"`
}

// backendOf returns the lower-cased scheme of a DSN, with postgresql and
// mongodb+srv folded into postgres and mongodb.
func backendOf(d string) string {
	scheme, _, _ := strings.Cut(d, ":")
	switch s := strings.ToLower(scheme); s {
	case "postgresql":
		return "postgres"
	case "mongodb+srv":
		return "mongodb"
	default:
		return s
	}
}

// openSQL opens the gorm DB of a SQL DSN without touching its schema, as
// internal/dsn parses it. exists is false for a SQLite file that does not
// exist (it is not created; db is nil then).
func openSQL(d string) (db *gorm.DB, exists bool, closeFn func(), err error) {
	var dial gorm.Dialector
	switch backendOf(d) {
	case "sqlite":
		_, p, _ := strings.Cut(d, ":")
		if p == "" || strings.ContainsAny(p, "?#") {
			return nil, false, nil, usageErrorf("sqlite: needs a path without '?' or '#', as in sqlite:authserver.db")
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, false, func() {}, nil
		}
		dial = sqlite.Open(dsn.SQLiteDSN(p))
	case "postgres":
		if _, err := url.Parse(d); err != nil {
			return nil, false, nil, fmt.Errorf("postgres: malformed URL %s", dsn.Redact(d))
		}
		dial = postgres.Open(d)
	case "mysql":
		m, err := dsn.MySQLDSN(d)
		if err != nil {
			return nil, false, nil, err
		}
		dial = mysql.Open(m)
	default:
		return nil, false, nil, fmt.Errorf("not a SQL DSN: %s", dsn.Redact(d))
	}
	db, err = gorm.Open(dial, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, false, nil, fmt.Errorf("opening %s: %w", dial.Name(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, false, nil, err
	}
	return db, true, func() { _ = sqlDB.Close() }, nil
}

// installedVersion reads the schema version recorded in db (0 if none),
// from the table the migrations write, whatever the version.
func installedVersion(ctx context.Context, db *gorm.DB) (int, error) {
	table := gormstore.DefaultTablePrefix + "schema_version"
	db = db.WithContext(ctx)
	if !db.Migrator().HasTable(table) {
		if err := db.Error; err != nil {
			return 0, err
		}
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.Raw("SELECT MAX(version) FROM " + table).Row().Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (a *app) status(ctx context.Context, d string) (*schemaStatus, error) {
	st := &schemaStatus{Backend: backendOf(d), Binary: gormstore.SchemaVersion}
	switch st.Backend {
	case "memory":
		st.Note = "an in-process store has no schema"
		st.UpToDate = true
		return st, nil
	case "mongodb":
		st.Note = "MongoDB has no schema version: the indexes are created whenever a command opens the store"
		st.UpToDate = true
		return st, nil
	}
	db, exists, closeFn, err := openSQL(d)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	v := 0
	if exists {
		if v, err = installedVersion(ctx, db); err != nil {
			return nil, err
		}
	} else {
		st.Note = "the SQLite file does not exist yet"
	}
	st.Installed = &v
	st.UpToDate = v == gormstore.SchemaVersion
	return st, nil
}

func (a *app) printStatus(st *schemaStatus) error {
	if a.jsonOut {
		return a.printJSON(st)
	}
	w := newTable(a.stdout)
	w.row("Backend:", st.Backend)
	if st.Installed != nil {
		if st.Previous != nil {
			w.row("Previous version:", strconv.Itoa(*st.Previous))
		}
		w.row("Installed version:", strconv.Itoa(*st.Installed))
		w.row("Binary version:", strconv.Itoa(st.Binary))
		state := "up to date"
		switch {
		case *st.Installed < st.Binary:
			state = "migration pending: run 'oauthstore migrate up'"
		case *st.Installed > st.Binary:
			state = "the schema is newer than this binary: upgrade oauthstore"
		}
		w.row("State:", state)
	}
	if st.Note != "" {
		w.row("Note:", st.Note)
	}
	return w.flush()
}

func (a *app) migrateStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed schema version and this binary's",
		Long: `status shows the schema version installed in the database next to the one
this binary reads and writes, without changing anything (a missing SQLite
file is not created).`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			d, err := a.dsnValue()
			if err != nil {
				return err
			}
			st, err := a.status(cmd.Context(), d)
			if err != nil {
				return err
			}
			return a.printStatus(st)
		}),
	}
}

func (a *app) migrateUpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Create the schema or upgrade it to this binary's version",
		Long: `up creates the schema, or applies the migrations newer than the installed
version, each file in a transaction where the database allows it. Concurrent
runs are serialised. On MongoDB it creates the indexes.`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := a.dsnValue()
			if err != nil {
				return err
			}
			before, err := a.status(ctx, d)
			if err != nil {
				return err
			}
			// Opening the store migrates it.
			_, closeFn, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			closeFn()
			after, err := a.status(ctx, d)
			if err != nil {
				return err
			}
			after.Previous = before.Installed
			if after.Backend == "mongodb" {
				after.Note = "indexes created"
			}
			return a.printStatus(after)
		}),
	}
}

func (a *app) migrateSQLCmd() *cobra.Command {
	var dialect string
	var from int
	c := &cobra.Command{
		Use:   "sql --dialect sqlite|postgres|mysql [--from N]",
		Short: "Print the migration SQL for a dialect without touching a database",
		Long: `sql prints the SQL files that create the schema (or, with --from N, upgrade
it from version N) for a dialect, in order, for teams that apply migrations
with their own tool. The tables use the default prefix ` + gormstore.DefaultTablePrefix + `;
each file records its version in ` + gormstore.DefaultTablePrefix + `schema_version.
Needs no --dsn.`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			switch dialect {
			case "sqlite", "postgres", "mysql":
			case "":
				return usageErrorf("--dialect is required (sqlite, postgres or mysql)")
			default:
				return usageErrorf("unknown --dialect %q (sqlite, postgres or mysql)", dialect)
			}
			if from < 0 || from > gormstore.SchemaVersion {
				return usageErrorf("--from %d: versions go from 0 to %d", from, gormstore.SchemaVersion)
			}
			dir := path.Join("migrations", dialect)
			entries, err := fs.ReadDir(gormstore.Migrations, dir)
			if err != nil {
				return err
			}
			type file struct {
				Version int    `json:"version"`
				Name    string `json:"name"`
				SQL     string `json:"sql"`
			}
			var files []file
			for _, e := range entries {
				num, _, _ := strings.Cut(e.Name(), "_")
				v, err := strconv.Atoi(num)
				if err != nil || !strings.HasSuffix(e.Name(), ".sql") || v <= from {
					continue
				}
				b, err := fs.ReadFile(gormstore.Migrations, path.Join(dir, e.Name()))
				if err != nil {
					return err
				}
				files = append(files, file{Version: v, Name: e.Name(), SQL: string(b)})
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"dialect": dialect, "from": from, "to": gormstore.SchemaVersion, "files": files})
			}
			if len(files) == 0 {
				fmt.Fprintf(a.stdout, "-- nothing to apply: version %d is the latest\n", from)
				return nil
			}
			for _, f := range files {
				fmt.Fprintf(a.stdout, "-- %s (version %d)\n%s", f.Name, f.Version, f.SQL)
				if !strings.HasSuffix(f.SQL, "\n") {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintln(a.stdout)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&dialect, "dialect", "", "sqlite, postgres or mysql")
	c.Flags().IntVar(&from, "from", 0, "the installed version: print only the newer files")
	return c
}
