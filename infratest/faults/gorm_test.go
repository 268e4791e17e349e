package faults

import (
	"context"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/gormstore"
	"github.com/oauthstore/oauthstore/infratest/internal/faultload"
	"github.com/oauthstore/oauthstore/infratest/internal/faultproxy"
	"github.com/oauthstore/oauthstore/internal/testenv"
)

// openGorm opens d with a silent logger.
func openGorm(t *testing.T, d gorm.Dialector) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		t.Fatalf("gorm.Open(%s): %v", d.Name(), err)
	}
	return db
}

// runGorm runs the fault load on gormstore: proxied and direct are the
// same database, through the proxy and not.
func runGorm(t *testing.T, name string, proxy *faultproxy.Proxy, proxied, direct gorm.Dialector, class func(error) string, base int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	epoch := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { return epoch }
	db := openGorm(t, proxied)
	store, err := gormstore.New(ctx, db, gormstore.WithClock(clock))
	if err != nil {
		t.Fatalf("gormstore.New through the Proxy: %v", err)
	}
	ddb := openGorm(t, direct)
	dstore, err := gormstore.New(ctx, ddb, gormstore.WithClock(clock), gormstore.WithoutMigrate())
	if err != nil {
		t.Fatalf("gormstore.New, Direct: %v", err)
	}
	b := &faultload.Backend{
		Name: name, Store: store, Direct: dstore, Proxy: proxy, Prefix: "gormstore: ",
		DriverClass: class,
		RestartDown: func(*testing.T) { proxy.Down() },
		RestartUp: func(t *testing.T) {
			if err := proxy.Up(); err != nil {
				t.Fatal(err)
			}
		},
		RestartHow: "simulated: the proxy refuses new connections and resets every open one for 1 s",
	}
	faultload.Run(t, b, clock, faultload.FaultPhases())

	for _, c := range []interface{ Close() error }{store, dstore} {
		if err := c.Close(); err != nil {
			t.Errorf("closing a Store: %v", err)
		}
	}
	for _, g := range []*gorm.DB{db, ddb} {
		sqlDB, err := g.DB()
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlDB.Close(); err != nil {
			t.Errorf("closing the pool: %v", err)
		}
	}
	if err := proxy.Close(); err != nil {
		t.Errorf("closing the Proxy: %v", err)
	}
	faultload.GoroutinesSettle(t, name, base)
}

func TestFaultsPostgres(t *testing.T) {
	faultload.RequireFaults(t)
	dsn := testenv.PostgresDSN(t) // a fresh schema; skips or fails without a server
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Fatalf("%s must be a postgres:// URL for the proxy to be put in front of it", testenv.PostgresEnv)
	}
	base := runtime.NumGoroutine()
	proxy, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	pu := *u
	pu.Host = proxy.Addr()
	runGorm(t, "postgres", proxy, postgres.Open(pu.String()), postgres.Open(dsn), faultload.PGClass, base)
}

func TestFaultsMariaDB(t *testing.T) {
	faultload.RequireFaults(t)
	dsn := testenv.MySQLDSN(t) // a fresh database; skips or fails without a server
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Fatalf("%s must reach the server over TCP for the proxy to be put in front of it", testenv.MySQLEnv)
	}
	base := runtime.NumGoroutine()
	proxy, err := faultproxy.New(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	pc := cfg.Clone()
	pc.Addr = proxy.Addr()
	runGorm(t, "mariadb", proxy, mysql.Open(pc.FormatDSN()), mysql.Open(dsn), faultload.MySQLClass, base)
}
