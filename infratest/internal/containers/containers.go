// Package containers starts the database servers of the infrastructure
// tests in Docker containers, through testcontainers-go: PostgreSQL,
// MariaDB (MySQL protocol) and a MongoDB-protocol server.
//
// Each kind of server runs the image its environment variable names
// ([PostgresImageEnv], [MySQLImageEnv], [MongoImageEnv]), by default the
// official image (postgres:15, mariadb:10.11, mongo:7) for users whose
// Docker engine reaches a registry. infratest/images/build.sh builds local
// equivalents from Debian packages (oauthstore-test/postgres:15,
// oauthstore-test/mariadb:10.11, oauthstore-test/ferretdb:1.24.2) for
// machines that reach none. Both kinds of images get the same environment
// and are judged ready the same way: once the container's port is mapped, a
// real ping (a SQL query, a MongoDB ping command) is retried until it
// succeeds or a deadline passes. No log line is awaited: they differ between
// the images.
//
// Published ports are bound to 127.0.0.1 only, and clients connect to
// 127.0.0.1: the Docker engine must run on this machine.
//
// The reaper container of testcontainers-go (Ryuk) is disabled unless
// TESTCONTAINERS_RYUK_DISABLED says otherwise: its image is not available
// offline. Instead every container carries the label [Label] and the ID of
// the process that started it; [Start] terminates its container when the
// test ends, and the first Start of a process removes the containers of
// processes that no longer run (left over by a killed test binary).
//
// When no Docker engine answers, [Start] skips the test with a message
// saying what to do, or fails it when OAUTHSTORE_TEST_REQUIRE=all.
package containers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Environment variables choosing the image of each kind of server.
const (
	PostgresImageEnv = "OAUTHSTORE_TEST_POSTGRES_IMAGE"
	MySQLImageEnv    = "OAUTHSTORE_TEST_MYSQL_IMAGE"
	MongoImageEnv    = "OAUTHSTORE_TEST_MONGO_IMAGE"
)

// RequireEnv is the variable that turns skips into failures when set to
// "all", as in the root module's tests.
const RequireEnv = "OAUTHSTORE_TEST_REQUIRE"

// Labels set on every container this package starts.
const (
	// Label marks the containers of the infrastructure tests.
	Label = "org.oauthstore.infratest"
	// PIDLabel holds the ID of the process that started the container.
	PIDLabel = "org.oauthstore.infratest.pid"
)

// Kind is a kind of database server.
type Kind int

const (
	// Postgres is PostgreSQL 15; [Server.DSN] is a pgx URL of database
	// "test", user "postgres".
	Postgres Kind = iota
	// MySQL is MariaDB 10.11; [Server.DSN] is a go-sql-driver/mysql DSN of
	// database "test", user root with an empty password, parseTime=true,
	// loc=UTC.
	MySQL
	// Mongo is a MongoDB-protocol server: MongoDB itself with the official
	// image, FerretDB on PostgreSQL with the local one; [Server.DSN] is a
	// mongodb:// URI.
	Mongo
)

// spec is everything that differs between the kinds of servers. The env of
// each works for both the official and the local image: the official
// images read these variables on their first start; the local images are
// configured the same way at build time and ignore them.
type spec struct {
	name         string // for messages
	imageEnv     string
	defaultImage string
	port         string // the server's port inside the container
	env          map[string]string
	dsn          func(hostPort string) string
	ping         func(ctx context.Context, dsn string) error
	// startup bounds how long the server may take to answer once its
	// container runs (the official images initialise a data directory on
	// first start).
	startup time.Duration
}

var specs = map[Kind]spec{
	Postgres: {
		name:         "PostgreSQL",
		imageEnv:     PostgresImageEnv,
		defaultImage: "postgres:15",
		port:         "5432/tcp",
		env: map[string]string{
			"POSTGRES_HOST_AUTH_METHOD": "trust",
			"POSTGRES_DB":               "test",
		},
		dsn: func(hp string) string {
			return "postgres://postgres@" + hp + "/test?sslmode=disable"
		},
		ping:    pingSQL("pgx"),
		startup: 2 * time.Minute,
	},
	MySQL: {
		name:         "MariaDB",
		imageEnv:     MySQLImageEnv,
		defaultImage: "mariadb:10.11",
		port:         "3306/tcp",
		env: map[string]string{
			"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1",
			"MARIADB_DATABASE":                  "test",
		},
		dsn: func(hp string) string {
			c := mysql.NewConfig()
			c.User = "root"
			c.Net = "tcp"
			c.Addr = hp
			c.DBName = "test"
			c.ParseTime = true
			c.Loc = time.UTC
			return c.FormatDSN()
		},
		ping:    pingMySQL,
		startup: 3 * time.Minute,
	},
	Mongo: {
		name:         "MongoDB protocol server",
		imageEnv:     MongoImageEnv,
		defaultImage: "mongo:7",
		port:         "27017/tcp",
		dsn:          func(hp string) string { return "mongodb://" + hp + "/" },
		ping:         pingMongo,
		startup:      2 * time.Minute,
	},
}

// Image returns the image [Start] runs for kind: the value of its
// environment variable, or the official image.
func Image(kind Kind) string {
	s := specs[kind]
	if v := os.Getenv(s.imageEnv); v != "" {
		return v
	}
	return s.defaultImage
}

// Server is a running container of a database server.
type Server struct {
	Kind  Kind
	Image string
	// HostPort is the server's address on this machine, 127.0.0.1:PORT.
	HostPort string
	// DSN is how to connect to it (see the [Kind] constants).
	DSN string
}

// Start starts a container of kind, waits until the server answers a real
// query, and terminates the container when t ends. Without a Docker engine
// it skips t (fails it under OAUTHSTORE_TEST_REQUIRE=all) with a message
// saying what to do.
func Start(t testing.TB, kind Kind) *Server {
	t.Helper()
	s, ok := specs[kind]
	if !ok {
		t.Fatalf("containers: unknown kind %d", kind)
	}
	img := Image(kind)
	if err := dockerReady(t); err != nil {
		unavailable(t, "no Docker engine answers (%v): start one (infratest/images/dockerd.sh does on Debian) or point DOCKER_HOST at one", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	begin := time.Now()
	ctr, err := run(ctx, t, s, img)
	// Registered even on failure: Run may return a created container.
	t.Cleanup(func() {
		if ctr == nil {
			return
		}
		if err := testcontainers.TerminateContainer(ctr, testcontainers.StopTimeout(10*time.Second)); err != nil {
			t.Errorf("containers: terminating the %s container: %v", img, err)
		}
	})
	if err != nil {
		// Run pulls an image the engine lacks; if it is still missing, the
		// pull failed: the image is unavailable, not broken.
		if present, ierr := imagePresent(ctx, img); ierr == nil && !present {
			unavailable(t, "image %s is not available (%v): set %s to an image this engine has, or build the local ones with infratest/images/build.sh", img, err, s.imageEnv)
		}
		t.Fatalf("containers: starting %s (%s): %v%s", s.name, img, err, logTail(ctr))
	}
	port, err := ctr.MappedPort(ctx, s.port)
	if err != nil {
		t.Fatalf("containers: %s port of %s: %v", s.port, img, err)
	}
	hp := net.JoinHostPort("127.0.0.1", port.Port())
	t.Logf("containers: %s (%s) answers on %s after %v", s.name, img, hp, time.Since(begin).Round(10*time.Millisecond))
	return &Server{Kind: kind, Image: img, HostPort: hp, DSN: s.dsn(hp)}
}

// run starts a container of image img for s, published on 127.0.0.1.
func run(ctx context.Context, t testing.TB, s spec, img string) (*testcontainers.DockerContainer, error) {
	port, err := network.ParsePort(s.port)
	if err != nil {
		return nil, err
	}
	return testcontainers.Run(ctx, img,
		// testcontainers-go's progress lines go to the test's log.
		testcontainers.WithLogger(tclog.TestLogger(t)),
		testcontainers.WithEnv(s.env),
		testcontainers.WithExposedPorts(s.port),
		testcontainers.WithLabels(map[string]string{
			Label:    "1",
			PIDLabel: strconv.Itoa(os.Getpid()),
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			// Port 0: the engine picks a free one.
			hc.PortBindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}
		}),
		testcontainers.WithWaitStrategy(&pingStrategy{port: s.port, dsn: s.dsn, ping: s.ping, timeout: s.startup}),
	)
}

// pingStrategy is a wait.Strategy: ready when the mapped port answers a
// real ping.
type pingStrategy struct {
	port    string
	dsn     func(hostPort string) string
	ping    func(ctx context.Context, dsn string) error
	timeout time.Duration
}

func (p *pingStrategy) Timeout() *time.Duration { return &p.timeout }

func (p *pingStrategy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if st, err := target.State(ctx); err == nil && !st.Running {
			return fmt.Errorf("container stopped (status %q, exit code %d)", st.Status, st.ExitCode)
		}
		if port, err := target.MappedPort(ctx, p.port); err != nil {
			last = fmt.Errorf("port %s not mapped yet: %w", p.port, err)
		} else {
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			last = p.ping(pctx, p.dsn(net.JoinHostPort("127.0.0.1", port.Port())))
			pcancel()
			if last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v: %w", p.timeout, last)
		case <-tick.C:
		}
	}
}

func pingSQL(driver string) func(ctx context.Context, dsn string) error {
	return func(ctx context.Context, dsn string) error {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
}

// pingMySQL waits for the server's greeting before asking the driver to
// connect: until the server listens, Docker's proxy accepts connections and
// closes them, which the driver would log as "unexpected EOF".
func pingMySQL(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = io.ReadFull(conn, make([]byte, 4)) // the greeting's packet header
	_ = conn.Close()
	if err != nil {
		return fmt.Errorf("no greeting from the server: %w", err)
	}
	return pingSQL("mysql")(ctx, dsn)
}

func pingMongo(ctx context.Context, uri string) error {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	return c.Ping(ctx, nil)
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "all" {
		t.Fatalf("containers: %s (%s=all)", msg, RequireEnv)
	}
	t.Skipf("containers: %s", msg)
}

// logTail returns the last lines of ctr's log, for a failure message.
func logTail(ctr *testcontainers.DockerContainer) string {
	if ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "\ncontainer log (last lines):\n" + strings.Join(lines, "\n")
}

var (
	dockerOnce sync.Once
	dockerErr  error // no engine
	leftover   error // removing leftovers failed: worth a log line only
	dockerCli  *testcontainers.DockerClient
)

// dockerReady checks once per process that a Docker engine answers, with
// Ryuk disabled unless the environment says otherwise, and removes the
// containers left over by test processes that no longer run.
func dockerReady(t testing.TB) error {
	dockerOnce.Do(func() {
		if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
			// Read by testcontainers-go once, at its first use: now.
			_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		dockerCli, dockerErr, leftover = removeLeftovers()
		if leftover != nil {
			t.Logf("containers: %v", leftover)
		}
	})
	return dockerErr
}

// removeLeftovers returns a client of the engine, kept for the process,
// or an error if no engine answers, and, separately, what went wrong
// removing leftovers.
func removeLeftovers() (cli *testcontainers.DockerClient, engine, removal error) {
	defer func() {
		// testcontainers-go panics on some broken Docker set-ups.
		if r := recover(); r != nil {
			cli, engine = nil, fmt.Errorf("docker client: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err, nil
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", Label),
	})
	if err != nil {
		_ = cli.Close()
		return nil, err, nil
	}
	var errs []error
	for _, c := range list.Items {
		pid, perr := strconv.Atoi(c.Labels[PIDLabel])
		if perr == nil && processRuns(pid) {
			continue // another test process's container
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("removing leftover container %.12s: %w", c.ID, err))
		}
	}
	return cli, nil, errors.Join(errs...)
}

// imagePresent reports whether the engine has image img.
func imagePresent(ctx context.Context, img string) (bool, error) {
	if dockerCli == nil {
		return false, errors.New("no Docker client")
	}
	_, err := dockerCli.ImageInspect(ctx, img)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// processRuns reports whether a process with that ID exists on this machine.
func processRuns(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
