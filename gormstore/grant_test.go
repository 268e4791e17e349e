package gormstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// sqlOf returns the SQL texts of stmts.
func sqlOf(stmts []loggedStmt) []string {
	out := make([]string, len(stmts))
	for i, st := range stmts {
		out[i] = st.sql
	}
	return out
}

// TestGrantStatements pins the statements the grant operations send: a
// rotation is one statement on PostgreSQL (a data-modifying CTE), and the
// conditional UPDATE and INSERT ... SELECT in one transaction elsewhere; a
// refused successor writes nothing; a reuse, a code replay and RevokeGrant each
// revoke a grant's tokens with one UPDATE by grant_id, and nothing else is
// written.
func TestGrantStatements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		rec := recordSQL(t, db)
		clock := newTestClock()
		s := newStore(t, db, clock)
		q := s.q
		expect := func(what string, want ...string) {
			t.Helper()
			if got := sqlOf(rec.take()); !slices.Equal(got, want) {
				t.Errorf("%s sent:\n%q\nwant:\n%q", what, got, want)
			}
		}
		must := func(err error, what string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		must(s.CreateToken(ctx, token("acc", "ref")), "CreateToken")
		rec.take()
		must(s.RotateToken(ctx, "ref", token("acc2", "ref2")), "RotateToken")
		// PostgreSQL: one statement (a data-modifying CTE). Elsewhere the
		// checked UPDATE and INSERT ... SELECT, in one transaction.
		decide, rotation := []string{q.rotateOne}, []string{q.rotateOne}
		if b.name != postgresDialect {
			decide, rotation = []string{q.rotateOldChecked}, []string{q.rotateOldChecked, q.insertSuccessor}
		}
		expect("a rotation", rotation...)

		err := s.RotateToken(ctx, "ref", token("acc3", "ref3"))
		if !errors.Is(err, storage.ErrRevoked) {
			t.Fatalf("reuse: %v, want ErrRevoked", err)
		}
		expect("a reuse", append(slices.Clone(decide), q.tokenByRefresh, q.revokeGrantTokens)...)

		mismatch := token("acc4", "ref4")
		mismatch.ClientID = "c2"
		must(s.CreateToken(ctx, token("acc5", "ref5")), "CreateToken")
		rec.take()
		if err := s.RotateToken(ctx, "ref5", mismatch); !errors.Is(err, storage.ErrInvalid) {
			t.Fatalf("rotation for another client: %v, want ErrInvalid", err)
		}
		// The UPDATE's successor conditions refuse it; the read of the
		// live pair tells why. Nothing is written.
		expect("a rotation for another client", append(slices.Clone(decide), q.tokenByRefresh)...)
		if _, err := s.GetTokenByRefresh(ctx, "ref5"); err != nil {
			t.Fatalf("the pair of a refused rotation: %v", err)
		}
		rec.take()

		code := &models.AuthorizationCode{Code: "code", ClientID: "c1", AuthTime: epoch, ExpiresIn: time.Minute}
		must(s.CreateAuthorizationCode(ctx, code), "CreateAuthorizationCode")
		rec.take()
		_, err = s.ConsumeAuthorizationCode(ctx, "code")
		must(err, "ConsumeAuthorizationCode")
		// UPDATE ... RETURNING where the database has it: the winner gets
		// the code in the statement that consumed it.
		consume := q.consumeCode
		if b.name == mysqlDialect {
			expect("a consumption (MySQL: the UPDATE, then the read)", q.consumeCode, q.selectCode)
		} else {
			consume = q.consumeCodeReturning
			expect("a consumption (one UPDATE ... RETURNING)", consume)
		}
		if _, err := s.ConsumeAuthorizationCode(ctx, "code"); !errors.Is(err, storage.ErrAlreadyUsed) {
			t.Fatalf("replay: %v, want ErrAlreadyUsed", err)
		}
		expect("a code replay", consume, q.selectCode, q.revokeGrantTokens)
		if _, err := s.GetAuthorizationCode(ctx, "code"); !errors.Is(err, storage.ErrAlreadyUsed) {
			t.Fatalf("GetAuthorizationCode of a used code: %v, want ErrAlreadyUsed", err)
		}
		expect("GetAuthorizationCode of a used code (a pure read)", q.selectCode)

		tk, err := s.GetTokenByAccess(ctx, "acc5")
		must(err, "GetTokenByAccess")
		rec.take()
		must(s.RevokeGrant(ctx, tk.GrantID), "RevokeGrant")
		expect("RevokeGrant", q.revokeGrantCodes, q.revokeGrantTokens)
		must(s.RevokeGrant(ctx, tk.GrantID), "RevokeGrant again")
		expect("RevokeGrant of a revoked grant", q.revokeGrantCodes, q.revokeGrantTokens, q.hasGrant)
	})
}

// TestConcurrentGrants rotates chains of pairs of one grant in several
// goroutines while others revoke the grant and replay its code, over and
// over: no call may fail with anything but the contract's errors (no
// deadlock or busy error surfaces; InnoDB's victims are run again), and
// once they are done RevokeGrant leaves no live token of the grant.
func TestConcurrentGrants(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		clock := newTestClock()
		s := newStore(t, db, clock)
		const grant = "shared-grant"
		code := &models.AuthorizationCode{Code: "grant-code", ClientID: "c1", AuthTime: epoch, ExpiresIn: time.Minute, GrantID: grant}
		if err := s.CreateAuthorizationCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConsumeAuthorizationCode(ctx, code.Code); err != nil {
			t.Fatal(err)
		}
		expected := func(err error) bool {
			return err == nil || errors.Is(err, storage.ErrRevoked) || errors.Is(err, storage.ErrAlreadyUsed)
		}
		errc := make(chan error, 256)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				pair := func(i int) *models.Token {
					tk := token(fmt.Sprintf("acc-%d-%d", w, i), fmt.Sprintf("ref-%d-%d", w, i))
					if i%2 == 0 {
						tk.GrantID = grant
					}
					return tk
				}
				cur := pair(0)
				cur.GrantID = grant
				if err := s.CreateToken(ctx, cur); err != nil {
					errc <- err
					return
				}
				for i := 1; i <= 20; i++ {
					next := pair(i)
					err := s.RotateToken(ctx, cur.RefreshToken, next)
					if !expected(err) {
						errc <- err
					}
					if err != nil { // the grant was revoked: start a new chain in it
						next.GrantID = grant
						if err := s.CreateToken(ctx, next); err != nil {
							errc <- err
							return
						}
					}
					cur = next
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 20 {
					if err := s.RevokeGrant(ctx, grant); !expected(err) {
						errc <- err
					}
					if _, err := s.ConsumeAuthorizationCode(ctx, code.Code); !expected(err) {
						errc <- err
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Errorf("unexpected error: %v", err)
		}
		if err := s.RevokeGrant(ctx, grant); err != nil {
			t.Fatal(err)
		}
		var live int64
		if err := db.Raw("SELECT COUNT(*) FROM "+s.t.tokens+" WHERE grant_id = ? AND revoked = FALSE", grant).Row().Scan(&live); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, s.t.tokens); live != 0 || n < 4*21 {
			t.Fatalf("%d live tokens of %d after RevokeGrant, want 0 of at least %d", live, n, 4*21)
		}
	})
}
