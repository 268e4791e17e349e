package failover

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/infratest/internal/faultload"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/storage"
)

const (
	// failoverEnv must be 1 for the test to run: it stops the primary.
	failoverEnv = "OAUTHSTORE_TEST_FAILOVER"
	// dsnEnv may hold another multi-host DSN than defaultDSN.
	dsnEnv = "OAUTHSTORE_TEST_FAILOVER_DSN"
	// defaultDSN reaches the clusters of infratest/replica/replica.sh: the
	// first host that accepts writes.
	defaultDSN = "host=127.0.0.1,127.0.0.1 port=5442,5443 user=postgres dbname=test sslmode=disable " +
		"target_session_attrs=read-write connect_timeout=2"
)

// script is replica.sh, relative to this package's directory.
var script = filepath.Join("..", "replica", "replica.sh")

func openGorm(t *testing.T, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("gorm.Open: %v", err)
	}
	return db
}

func closeGorm(t *testing.T, db *gorm.DB) {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Errorf("closing a pool: %v", err)
	}
}

// replica runs replica.sh with arg.
func replica(t *testing.T, arg string) error {
	t.Helper()
	out, err := exec.Command("bash", script, arg).CombinedOutput()
	t.Logf("replica.sh %s:\n%s", arg, strings.TrimSpace(string(out)))
	return err
}

// Under load through a multi-host DSN (target_session_attrs=read-write),
// the primary of a synchronously replicated PostgreSQL is stopped and its
// standby promoted: no acknowledged write may be lost, no code consumed
// twice, and the outage is printed.
func TestFailover(t *testing.T) {
	if os.Getenv(failoverEnv) != "1" {
		t.Skipf("failover test: run infratest/replica/replica.sh setup, then set %s=1 (it stops the primary)", failoverEnv)
	}
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		dsn = defaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The primary answers, writable, with a synchronous standby.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var syncState string
	if err := admin.QueryRowContext(ctx,
		"SELECT coalesce((SELECT string_agg(sync_state, ',') FROM pg_stat_replication), '')").Scan(&syncState); err != nil {
		testenv.Unavailable(t, "replicated PostgreSQL", failoverEnv, "run infratest/replica/replica.sh setup: "+err.Error())
	}
	if syncState != "sync" {
		t.Fatalf("the primary's standbys are %q, want one synchronous standby (replica.sh setup)", syncState)
	}

	schema := "failover_" + faultload.Credential()[:12]
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatal(err)
	}
	sdsn := dsn + " search_path=" + schema

	base := runtime.NumGoroutine()
	epoch := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { return epoch }
	db := openGorm(t, sdsn)
	store, err := gormstore.New(ctx, db, gormstore.WithClock(clock))
	if err != nil {
		t.Fatalf("gormstore.New: %v", err)
	}
	var (
		direct *gorm.DB
		dstore *gormstore.Store
	)
	b := &faultload.Backend{
		Name: "postgres failover", Store: store, Prefix: "gormstore: ", DriverClass: faultload.PGClass,
		// After the phases, a fresh pool on the same DSN reaches the new
		// primary.
		OpenDirect: func(t *testing.T) storage.Storage {
			direct = openGorm(t, sdsn)
			var err error
			dstore, err = gormstore.New(ctx, direct, gormstore.WithClock(clock), gormstore.WithoutMigrate())
			if err != nil {
				t.Fatalf("gormstore.New on the new primary: %v", err)
			}
			return dstore
		},
	}
	phases := []faultload.Phase{
		{Name: "primary", Length: 3 * time.Second},
		{Name: "failover", Length: 10 * time.Second,
			Fault: func(t *testing.T, b *faultload.Backend, at func(time.Duration)) []time.Time {
				at(2 * time.Second)
				began := time.Now()
				if err := replica(t, "stop-primary"); err != nil {
					t.Errorf("replica.sh stop-primary: %v", err)
					return nil
				}
				stopped := time.Since(began)
				if err := replica(t, "promote"); err != nil {
					t.Errorf("replica.sh promote: %v", err)
					return nil
				}
				t.Logf("primary stopped in %v, standby promoted %v later",
					stopped.Round(time.Millisecond), (time.Since(began) - stopped).Round(time.Millisecond))
				return []time.Time{time.Now()}
			}},
		{Name: "new primary", Length: 3 * time.Second},
	}
	faultload.Run(t, b, clock, phases)

	// The schema is on the new primary now.
	if _, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
		t.Errorf("dropping %s on the new primary: %v", schema, err)
	}
	var port int
	if err := admin.QueryRowContext(ctx, "SELECT inet_server_port()").Scan(&port); err == nil {
		t.Logf("writes now go to 127.0.0.1:%d", port)
	}
	if err := store.Close(); err != nil {
		t.Errorf("closing the store: %v", err)
	}
	closeGorm(t, db)
	if dstore != nil {
		if err := dstore.Close(); err != nil {
			t.Errorf("closing the direct store: %v", err)
		}
		closeGorm(t, direct)
	}
	faultload.GoroutinesSettle(t, "postgres failover", base)
}
