package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
)

// gormstore on SQLite (always), PostgreSQL and MySQL/MariaDB (when their
// variables are set), each against the floor: the lookup gormstore does,
// written by hand on the same *sql.DB (same driver, DSN and pool), as
// rawsql (QueryRowContext, as gorm sends it) and rawsql-prepared (a
// statement prepared once). GetByAccess also runs gormstore-unprepared: the
// same table and pool through a store opened WithoutPreparedStatements, as
// deployments behind a transaction-mode pooler run it.

type sqlBackend struct {
	db    string // db= value
	scale bool
	open  func(t testing.TB) *gorm.DB
}

func sqlBackends() []*sqlBackend {
	return []*sqlBackend{
		{db: "sqlite", scale: true, open: testenv.SQLite},
		{db: "postgres", scale: true, open: testenv.Postgres},
		{db: "mysql", open: testenv.MySQL},
	}
}

// tokensTable is gormstore's token table at its default prefix; every
// fixture has a database (SQLite file, PostgreSQL schema, MySQL database)
// of its own.
const tokensTable = gormstore.DefaultTablePrefix + "tokens"

// tokenSelect is the floor: what gormstore's readToken selects, by the
// access token's digest through the unique index on access_digest.
const tokenSelect = "SELECT client_id, scope, token_type, user_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked FROM " + tokensTable + " WHERE access_digest = "

func (sb *sqlBackend) placeholder(i int) string {
	if sb.db == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// openStore opens a fresh database and a gormstore on it.
func (sb *sqlBackend) openStore(t testing.TB, opts ...gormstore.Option) (*gormstore.Store, *gorm.DB, *sql.DB) {
	t.Helper()
	gdb := sb.open(t)
	s, err := gormstore.New(context.Background(), gdb, opts...)
	if err != nil {
		t.Fatalf("gormstore.New on %s: %v", sb.db, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	return s, gdb, sqlDB
}

// floorScan runs the floor query on row and returns the client ID; it reads
// every column gormstore reads.
func floorScan(row *sql.Row) (string, error) {
	var (
		clientID, scope, typ, user string
		issued, exp                int64
		refreshExp                 sql.NullInt64
		revoked                    bool
	)
	err := row.Scan(&clientID, &scope, &typ, &user, &issued, &exp, &refreshExp, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errMiss
	}
	if err != nil {
		return "", err
	}
	if revoked || time.Now().After(time.UnixMilli(exp)) {
		return "", fmt.Errorf("token of client %q not live", clientID)
	}
	return clientID, nil
}

func (sb *sqlBackend) fixture(tb testing.TB, n int) *fixture {
	return once(tb, "gormstore/"+sb.db+"/"+sizeName(n), func(t testing.TB) *fixture {
		ctx := context.Background()
		s, gdb, db := sb.openStore(t)
		space := newSpace()
		err := importTokens(ctx, s, n, func(i int) *models.Token {
			tok := tokenAt(space, uint64(i), "")
			return newToken(&tok)
		})
		if err != nil {
			t.Fatalf("filling %d tokens: %v", n, err)
		}
		if err := sb.analyze(ctx, db); err != nil {
			t.Fatal(err)
		}
		f := &fixture{impl: ours{s}, sample: newSample(space, n), release: s.DeleteClient}
		query := tokenSelect + sb.placeholder(1)
		stmt, err := db.PrepareContext(ctx, query)
		if err != nil {
			t.Fatalf("preparing the floor query: %v", err)
		}
		t.Cleanup(func() { _ = stmt.Close() })
		// The same table and pool through a store that prepares nothing.
		unprep, err := gormstore.New(ctx, gdb, gormstore.WithoutPreparedStatements())
		if err != nil {
			t.Fatalf("gormstore.New without prepared statements: %v", err)
		}
		t.Cleanup(func() { _ = unprep.Close() })
		f.floors = map[string]lookup{
			"gormstore-unprepared": ours{unprep}.getByAccess,
			"rawsql": func(ctx context.Context, access string) (string, error) {
				return floorScan(db.QueryRowContext(ctx, query, secret.Digest(access)))
			},
			"rawsql-prepared": func(ctx context.Context, access string) (string, error) {
				return floorScan(stmt.QueryRowContext(ctx, secret.Digest(access)))
			},
		}
		return f
	})
}

// analyze gathers fresh statistics of the token table, so that the server
// does not gather them in the middle of a measurement (SQLite has none to
// gather).
func (sb *sqlBackend) analyze(ctx context.Context, db *sql.DB) error {
	q := map[string]string{"postgres": "ANALYZE " + tokensTable, "mysql": "ANALYZE TABLE " + tokensTable}[sb.db]
	if q == "" {
		return nil
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

func sqlTargets() []*target {
	var out []*target
	for _, sb := range sqlBackends() {
		tg := &target{db: sb.db, impl: "gormstore", scale: sb.scale, fixture: sb.fixture,
			floors: []string{"gormstore-unprepared", "rawsql", "rawsql-prepared"}}
		tg.clients = func(tb testing.TB, hs hasherSpec) clientAuth {
			return once(tb, "gormstore/"+sb.db+"/clients/"+hs.name, func(t testing.TB) clientAuth {
				s, _, _ := sb.openStore(t, gormstore.WithHasher(hs.h))
				return newOurClients(t, s)
			})
		}
		tg.purger = sb.purger
		out = append(out, tg)
	}
	return out
}

// purger returns a gormstore at the default purge batch size
// ([gormstore.DefaultPurgeBatchSize] rows per DELETE) whose statements are
// timed through gorm callbacks.
func (sb *sqlBackend) purger(tb testing.TB) *purgeFixture {
	return once(tb, "gormstore/"+sb.db+"/purge", func(t testing.TB) *purgeFixture {
		s, gdb, _ := sb.openStore(t)
		st := &stmtTimer{}
		if err := timeStatements(gdb, st); err != nil {
			t.Fatal(err)
		}
		p := &purgeFixture{s: s, stmts: st}
		p.fill = func(ctx context.Context, space uint32, n int, expired bool) error {
			return importTokens(ctx, s, n, func(i int) *models.Token { return purgeToken(space, uint64(i), expired) })
		}
		return p.setUp(t)
	})
}

// timeStatements registers gorm callbacks that time every statement sent
// through db's Exec and Raw (gormstore sends all its SQL that way) and
// report the durations to st.
func timeStatements(db *gorm.DB, st *stmtTimer) error {
	const key = "bench:stmt-start"
	start := func(db *gorm.DB) { db.InstanceSet(key, time.Now()) }
	end := func(db *gorm.DB) {
		if v, ok := db.InstanceGet(key); ok {
			st.observe(time.Since(v.(time.Time)))
		}
	}
	for _, err := range []error{
		db.Callback().Raw().Before("gorm:raw").Register("bench:raw-start", start),
		db.Callback().Raw().After("gorm:raw").Register("bench:raw-end", end),
		db.Callback().Row().Before("gorm:row").Register("bench:row-start", start),
		db.Callback().Row().After("gorm:row").Register("bench:row-end", end),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
