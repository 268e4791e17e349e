package gormstore

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// crashChildEnv, set to a database path, makes TestCrashSQLite the child
// that writes until it is killed.
const crashChildEnv = "OAUTHSTORE_GORMSTORE_CRASH_CHILD"

// crashCode is the i-th code the child writes; it consumes every third.
func crashCode(round, i int) *models.AuthorizationCode {
	return &models.AuthorizationCode{
		Code:      fmt.Sprintf("crash-code-%d-%d", round, i),
		ClientID:  "crash-client",
		AuthTime:  epoch,
		ExpiresIn: time.Hour,
	}
}

// crashChild writes codes through the store, consuming every third, and
// prints a line for each write the store acknowledged ("created N",
// "consumed N"), until it is killed.
func crashChild(path string, round int) {
	ctx := context.Background()
	db, err := gorm.Open(sqlite.Open(testenv.SQLiteDSNFor(path)), &gorm.Config{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	s, err := New(ctx, db, WithClock(func() time.Time { return epoch }))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := s.CreateAuthorizationCode(ctx, crashCode(round, i)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "created %d\n", i)
		w.Flush()
		if i%3 == 0 {
			if _, err := s.ConsumeAuthorizationCode(ctx, crashCode(round, i).Code); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Fprintf(w, "consumed %d\n", i)
			w.Flush()
		}
	}
}

// A child process writing through the store on a SQLite file (the README's
// DSN) is killed with SIGKILL at random moments (after a random number of
// acknowledged writes); after each kill the file passes PRAGMA
// integrity_check, every write the child acknowledged is there, and no
// consumed code can be consumed again.
func TestCrashSQLite(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		round, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_ROUND"))
		crashChild(path, round)
		return
	}
	const kills = 12
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx := context.Background()
	var acked, consumedAcked int
	for round := range kills {
		after := 5 + rng.IntN(200) // acknowledged writes before the kill
		cmd := osexec.Command(os.Args[0], "-test.run=^TestCrashSQLite$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildEnv+"_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		created, consumed := map[int]bool{}, map[int]bool{}
		sc := bufio.NewScanner(out)
		writes := 0
		for writes < after && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && (f[0] == "created" || f[0] == "consumed") {
				i, _ := strconv.Atoi(f[1])
				if f[0] == "created" {
					created[i] = true
				} else {
					consumed[i] = true
				}
				writes++
				continue
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: the child said %q", round, sc.Text())
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		_ = cmd.Wait()
		// Acknowledgements the child printed before it died also count.
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 {
				i, _ := strconv.Atoi(f[1])
				if f[0] == "created" {
					created[i] = true
				} else if f[0] == "consumed" {
					consumed[i] = true
				}
			}
		}
		if writes < after {
			t.Fatalf("round %d: the child stopped after %d writes", round, writes)
		}

		raw, err := sql.Open("sqlite3", testenv.SQLiteDSNFor(path))
		if err != nil {
			t.Fatal(err)
		}
		var check string
		if err := raw.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, check, err)
		}
		_ = raw.Close()
		db := testenv.OpenGorm(t, testenv.DialectSQLite, testenv.SQLiteDSNFor(path))
		s := newStore(t, db, newTestClock())
		for i := range created {
			code := crashCode(round, i).Code
			_, err := s.GetAuthorizationCode(ctx, code)
			switch {
			case consumed[i]:
				if !errors.Is(err, storage.ErrAlreadyUsed) {
					t.Errorf("round %d: acknowledged consumed code %d reads %v, want ErrAlreadyUsed", round, i, err)
				}
				if _, err := s.ConsumeAuthorizationCode(ctx, code); !errors.Is(err, storage.ErrAlreadyUsed) {
					t.Errorf("round %d: acknowledged consumed code %d consumed again: %v", round, i, err)
				}
			case err != nil && !errors.Is(err, storage.ErrAlreadyUsed):
				// Used is possible: the child may have consumed it and died
				// before saying so.
				t.Errorf("round %d: acknowledged code %d is lost: %v", round, i, err)
			}
		}
		acked += len(created)
		consumedAcked += len(consumed)
	}
	t.Logf("%d kills: %d acknowledged creates and %d acknowledged consumes all found after the kills, integrity_check ok every time, no code consumed twice", kills, acked, consumedAcked)
}
