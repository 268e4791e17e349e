package gormstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// readmeSQLiteDSN is the DSN the README and the package documentation give
// for SQLite (with the path in front); the pool gets one connection.
const readmeSQLiteDSN = "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"

// walBound is the most the WAL may reach under the load of
// TestSQLiteWALBounded with one connection: wal_autocheckpoint's 1000 pages
// (4 MB) plus the transaction that crosses them, with room to spare.
const walBound = 16 << 20

// walRun is what walLoad measured.
type walRun struct {
	writes   int
	maxWAL   int64 // the largest -wal file seen
	elapsed  time.Duration
	sync     int // PRAGMA synchronous
	busy     int // PRAGMA wal_checkpoint(PASSIVE) after the load: busy,
	log      int // frames in the WAL,
	ckpt     int // frames checkpointed
	finalWAL int64
}

// walLoad opens the SQLite file path with the DSN query q and maxConns
// connections (0: database/sql's default, unlimited), runs 4 writers of
// perWriter rounds (create a token, create a code, consume it) and watches
// the -wal file's size after every write.
func walLoad(t *testing.T, q string, maxConns, perWriter int) walRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wal.db")
	db, err := gorm.Open(sqlite.Open("file:"+path+q), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if maxConns > 0 {
		sqlDB.SetMaxOpenConns(maxConns)
	}
	ctx := context.Background()
	s, err := New(ctx, db, WithClock(func() time.Time { return epoch }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var (
		mu  sync.Mutex
		run walRun
		wg  sync.WaitGroup
	)
	observe := func() {
		fi, err := os.Stat(path + "-wal")
		mu.Lock()
		defer mu.Unlock()
		run.writes++
		if err == nil && fi.Size() > run.maxWAL {
			run.maxWAL = fi.Size()
		}
	}
	start := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("wal-%d-%d", w, i)
				tok := &models.Token{AccessToken: "a-" + id, RefreshToken: "r-" + id, ClientID: "c",
					IssuedAt: epoch, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}
				code := &models.AuthorizationCode{Code: "c-" + id, ClientID: "c", AuthTime: epoch, ExpiresIn: time.Minute}
				if err := s.CreateToken(ctx, tok); err != nil {
					t.Error(err)
					return
				}
				observe()
				if err := s.CreateAuthorizationCode(ctx, code); err != nil {
					t.Error(err)
					return
				}
				observe()
				if _, err := s.ConsumeAuthorizationCode(ctx, code.Code); err != nil {
					t.Error(err)
					return
				}
				observe()
			}
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	if err := db.Raw("PRAGMA synchronous").Row().Scan(&run.sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw("PRAGMA wal_checkpoint(PASSIVE)").Row().Scan(&run.busy, &run.log, &run.ckpt); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		run.finalWAL = fi.Size()
	}
	return run
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// With the README's DSN and one connection, 4 writers keep the WAL within
// walBound: each automatic checkpoint (every 1000 pages) completes and the
// next write starts the WAL over. With database/sql's default pool, the
// same load grows it without bound (checkpoint starvation: some connection
// always holds a snapshot); that figure is printed, not asserted.
func TestSQLiteWALBounded(t *testing.T) {
	perWriter := 500
	if testing.Short() {
		perWriter = 100
	}
	one := walLoad(t, readmeSQLiteDSN, 1, perWriter)
	t.Logf("one connection, synchronous=NORMAL: %d writes in %v (%.0f/s); WAL at most %s (bound %s); after a passive checkpoint: busy %d, %d of %d frames checkpointed, file %s",
		one.writes, one.elapsed.Round(time.Millisecond), float64(one.writes)/one.elapsed.Seconds(),
		mb(one.maxWAL), mb(walBound), one.busy, one.ckpt, one.log, mb(one.finalWAL))
	if one.writes != 4*3*perWriter {
		t.Fatalf("%d writes acknowledged, want %d", one.writes, 4*3*perWriter)
	}
	if one.maxWAL > walBound {
		t.Errorf("with one connection the WAL reached %s, over the bound %s", mb(one.maxWAL), mb(walBound))
	}
	if one.busy != 0 || one.ckpt != one.log {
		t.Errorf("checkpoint after the load: busy %d, %d of %d frames: want all, not busy", one.busy, one.ckpt, one.log)
	}
	if one.sync != 1 {
		t.Errorf("PRAGMA synchronous = %d with the README's DSN, want 1 (NORMAL)", one.sync)
	}
	if testing.Short() {
		return
	}

	// FULL syncs the WAL at every commit: a fifth of the load is enough to
	// show its cost.
	full := walLoad(t, "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=FULL", 1, perWriter/5)
	if full.sync != 2 {
		t.Errorf("PRAGMA synchronous = %d with _synchronous=FULL, want 2", full.sync)
	}
	t.Logf("one connection, synchronous=FULL: %d writes in %v (%.0f/s); WAL at most %s",
		full.writes, full.elapsed.Round(time.Millisecond), float64(full.writes)/full.elapsed.Seconds(), mb(full.maxWAL))

	pool := walLoad(t, readmeSQLiteDSN, 0, perWriter)
	t.Logf("default pool (no SetMaxOpenConns), synchronous=NORMAL: %d writes in %v (%.0f/s); WAL at most %s, %s after the load",
		pool.writes, pool.elapsed.Round(time.Millisecond), float64(pool.writes)/pool.elapsed.Seconds(), mb(pool.maxWAL), mb(pool.finalWAL))
}

// The store works on one connection, as the package documentation
// recommends for SQLite: no operation needs a second one at the same time
// (the conformance suite, concurrent cases included, would hang until
// the test times out).
func TestConformanceSQLiteOneConnection(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		path := filepath.Join(t.TempDir(), "oauthstore.db")
		db := testenv.OpenGorm(t, testenv.DialectSQLite, "file:"+path+readmeSQLiteDSN)
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.SetMaxOpenConns(1)
		s, err := New(t.Context(), db, WithClock(clock), WithHasher(secret.ForTests()))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		closeOnCleanup(t, s)
		return sqliteDumpStore{s, path}
	})
}
