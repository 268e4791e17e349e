package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the admin connection
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/oauthstore/oauthstore/infratest/internal/faultload"
	"github.com/oauthstore/oauthstore/infratest/internal/faultproxy"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/mongostore"
)

// ferretBinEnv names a binary built from infratest/cmd/ferretdb; without
// it the test builds one.
const ferretBinEnv = "OAUTHSTORE_TEST_FERRETDB_BIN"

// mongoClass classifies the MongoDB driver's error types.
func mongoClass(err error) string {
	var sel topology.ServerSelectionError
	var conn topology.ConnectionError
	var srv mongo.ServerError
	var cleared driver.RetryablePoolError
	var wait topology.WaitQueueTimeoutError
	switch {
	case errors.As(err, &wait):
		return "mongo pool wait timeout"
	case errors.As(err, &sel):
		return "mongo server selection"
	case errors.As(err, &conn):
		return "mongo connection"
	case errors.As(err, &cleared):
		// The pool was cleared after another operation's network error.
		return "mongo pool cleared"
	case mongo.IsNetworkError(err):
		return "mongo network"
	case mongo.IsTimeout(err):
		return "mongo timeout"
	case errors.As(err, &srv):
		return "mongo server error"
	case errors.Is(err, mongo.ErrClientDisconnected):
		return "mongo disconnected"
	}
	return ""
}

var (
	ferretOnce sync.Once
	ferretBin  string
	ferretErr  error
	ferretDir  string
)

// ferretBinary returns the path of a FerretDB binary: the one of
// ferretBinEnv, or one built from infratest/cmd/ferretdb with the flags of
// infratest/images/build.sh, so that Go's build cache serves both.
func ferretBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(ferretBinEnv); bin != "" {
		return bin
	}
	ferretOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if ferretDir, ferretErr = os.MkdirTemp("", "oauthstore-faults-"); ferretErr != nil {
			return
		}
		ferretBin = filepath.Join(ferretDir, "ferretdb")
		start := time.Now()
		cmd := exec.Command(goCmd, "build", "-trimpath", "-buildvcs=false", "-o", ferretBin, "./cmd/ferretdb")
		cmd.Dir = ".." // the infratest module
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			ferretErr = fmt.Errorf("building infratest/cmd/ferretdb: %v\n%s", err, out)
			return
		}
		t.Logf("built infratest/cmd/ferretdb in %v (set %s to skip that)", time.Since(start).Round(time.Second), ferretBinEnv)
	})
	if ferretErr != nil {
		t.Fatal(ferretErr)
	}
	return ferretBin
}

// ferret is a FerretDB child process on its PostgreSQL handler.
type ferret struct {
	bin, addr, pgURL, dir string
	cmd                   *exec.Cmd
	exited                chan error
	log                   *os.File
}

// start runs the server and waits until it accepts connections.
func (f *ferret) start(t *testing.T) {
	t.Helper()
	if f.log == nil {
		var err error
		if f.log, err = os.Create(filepath.Join(f.dir, "ferretdb.log")); err != nil {
			t.Fatal(err)
		}
	}
	f.cmd = exec.Command(f.bin, "--listen-addr", f.addr, "--handler", "postgresql",
		"--postgresql-url", f.pgURL, "--state-dir", f.dir, "--log-level", "error")
	f.cmd.Stdout, f.cmd.Stderr = f.log, f.log
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("starting FerretDB: %v", err)
	}
	f.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan<- error) { exited <- cmd.Wait() }(f.cmd, f.exited)
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", f.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case err := <-f.exited:
			f.exited <- err
			log, _ := os.ReadFile(f.log.Name())
			t.Fatalf("FerretDB exited at start: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond): // polling a starting server
		}
		if time.Now().After(deadline) {
			t.Fatalf("FerretDB does not listen on %s after a minute", f.addr)
		}
	}
}

// kill stops the server with SIGKILL and waits for it.
func (f *ferret) kill() {
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Kill()
	<-f.exited
	f.cmd = nil
}

// freeAddr returns a 127.0.0.1 address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func mongoConnect(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(2 * time.Second).SetConnectTimeout(2 * time.Second))
	if err != nil {
		t.Fatalf("connecting to FerretDB: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx, nil); err != nil {
		t.Fatalf("pinging FerretDB: %v", err)
	}
	return c
}

func TestFaultsFerretDB(t *testing.T) {
	faultload.RequireFaults(t)
	pgBase := os.Getenv(testenv.PostgresEnv)
	if pgBase == "" {
		testenv.Unavailable(t, "PostgreSQL (FerretDB's backend)", testenv.PostgresEnv, "unset")
	}
	u, err := url.Parse(pgBase)
	if err != nil || u.Host == "" {
		t.Fatalf("%s must be a postgres:// URL", testenv.PostgresEnv)
	}
	admin, err := sql.Open("pgx", pgBase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() }) // after the DROP DATABASE below
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		testenv.Unavailable(t, "PostgreSQL (FerretDB's backend)", testenv.PostgresEnv, err.Error())
	}
	// FerretDB's PostgreSQL handler keeps everything in a database of its
	// own, dropped at the end (after FerretDB has stopped: cleanups run
	// last first).
	dbName := "oauthstore_faults_" + faultload.Credential()[:12]
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+dbName+`"`); err != nil {
		testenv.Unavailable(t, "PostgreSQL (FerretDB's backend)", testenv.PostgresEnv, "creating a database: "+err.Error())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+dbName+`" WITH (FORCE)`); err != nil {
			t.Errorf("dropping %s: %v", dbName, err)
		}
	})
	fu := *u
	fu.Path = "/" + dbName
	f := &ferret{bin: ferretBinary(t), addr: freeAddr(t), pgURL: fu.String(), dir: t.TempDir()}
	f.start(t)
	t.Cleanup(func() {
		f.kill()
		_ = f.log.Close()
	})

	base := runtime.NumGoroutine() // the child's Wait goroutine included
	proxy, err := faultproxy.New(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	client := mongoConnect(t, "mongodb://"+proxy.Addr()+"/?directConnection=true")
	dclient := mongoConnect(t, "mongodb://"+f.addr+"/?directConnection=true")

	epoch := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { return epoch }
	const db = "oauthstore_faults"
	noTTL := mongostore.WithTTLUnsupported(func(error) {}) // FerretDB has no TTL indexes
	store, err := mongostore.New(ctx, client.Database(db), mongostore.WithClock(clock), noTTL)
	if err != nil {
		t.Fatalf("mongostore.New through the Proxy: %v", err)
	}
	dstore, err := mongostore.New(ctx, dclient.Database(db), mongostore.WithClock(clock), noTTL)
	if err != nil {
		t.Fatalf("mongostore.New, Direct: %v", err)
	}
	b := &faultload.Backend{
		Name: "ferretdb", Store: store, Direct: dstore, Proxy: proxy, Prefix: "mongostore: ",
		DriverClass: mongoClass,
		RestartDown: func(*testing.T) { f.kill() },
		RestartUp:   f.start,
		RestartHow:  "real: FerretDB killed with SIGKILL, started again 1 s later on the same port (PostgreSQL handler)",
	}
	faultload.Run(t, b, clock, faultload.FaultPhases())

	for _, c := range []*mongo.Client{client, dclient} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := c.Disconnect(ctx); err != nil {
			t.Errorf("disconnecting: %v", err)
		}
		cancel()
	}
	if err := proxy.Close(); err != nil {
		t.Errorf("closing the Proxy: %v", err)
	}
	faultload.GoroutinesSettle(t, "ferretdb", base)
}
