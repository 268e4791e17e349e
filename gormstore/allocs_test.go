package gormstore

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
)

// allocBudget is the most heap allocations each operation may make, on
// average, in steady state (testing.AllocsPerRun, prepared statements
// ready, one pooled connection), by database. Most are not the store's:
// gorm builds a Statement per call, and database/sql and the driver
// convert every argument and column. So each budget is the figure
// measured when it was set (in the comment; Go 1.26, gorm v1.31.2,
// mattn/go-sqlite3 v1.14.22, pgx v5.10.0) plus 10%, rounded up to a
// multiple of 5 ([budgetFor]): wider than the variation between runs
// (at most 1 allocation, from pgx's buffers), narrow enough that one
// more allocation per column read or argument bound (12 or more) fails
// the lookups, Consume and RotateToken. A budget that fails names its
// operation and database; after a deliberate change, measure again
// (go test -run '^TestAllocBudgets$' -v ./gormstore/ logs each figure
// and the budget the rule gives it) and write both down.
var allocBudget = map[dialect]map[string]float64{
	sqliteDialect: {
		"GetTokenByAccess":         90,  // 79
		"GetTokenByAccess miss":    55,  // 47
		"GetTokenByRefresh":        90,  // 79
		"GetAuthorizationCode":     100, // 88
		"CreateToken":              50,  // 42
		"CreateAuthorizationCode":  40,  // 36
		"ConsumeAuthorizationCode": 105, // 92: UPDATE ... RETURNING
		"RotateToken":              125, // 112: a gorm transaction of two statements
		"RevokeToken":              30,  // 24
	},
	postgresDialect: {
		"GetTokenByAccess":         85, // 74
		"GetTokenByAccess miss":    70, // 63
		"GetTokenByRefresh":        85, // 74
		"GetAuthorizationCode":     90, // 81
		"CreateToken":              45, // 37
		"CreateAuthorizationCode":  35, // 31
		"ConsumeAuthorizationCode": 95, // 83: UPDATE ... RETURNING
		"RotateToken":              75, // 67: one statement, no transaction
		"RevokeToken":              30, // 24
	},
}

// budgetFor is the budget the margin rule gives a measured figure.
func budgetFor(measured float64) float64 { return math.Ceil(measured*1.1/5) * 5 }

// TestAllocBudgets keeps every hot operation within its allocation budget
// on SQLite and PostgreSQL.
func TestAllocBudgets(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are checked without -race (see race_test.go)")
	}
	for _, b := range backends {
		budgets, ok := allocBudget[b.name]
		if !ok {
			continue
		}
		t.Run(string(b.name), func(t *testing.T) { checkAllocBudgets(t, b, budgets) })
	}
}

func checkAllocBudgets(t *testing.T, b backend, budgets map[string]float64) {
	ctx := t.Context()
	db := b.open(t)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1) // as the package recommends for SQLite; one steady connection elsewhere
	s := newStore(t, db, newTestClock())
	const runs = 200
	n := 0
	next := func(kind string) string { n++; return fmt.Sprintf("%s-%032d", kind, n) }
	token := func() *models.Token {
		return &models.Token{AccessToken: next("access"), RefreshToken: next("refresh"), ClientID: "client", Scope: "read",
			IssuedAt: epoch, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour, UserID: "user"}
	}
	code := func() *models.AuthorizationCode {
		return &models.AuthorizationCode{Code: next("code"), ClientID: "client", RedirectURI: "https://app.example/cb",
			ResponseType: "code", Scope: "read", AuthTime: epoch, ExpiresIn: time.Minute, UserID: "user"}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	live := token()
	must(s.CreateToken(ctx, live))
	liveCode := code()
	must(s.CreateAuthorizationCode(ctx, liveCode))

	// Inputs made and stored before measuring (AllocsPerRun runs each
	// operation once more, to warm up), so that only the operation's
	// allocations count.
	tokens := make([]*models.Token, runs+1)
	codes := make([]*models.AuthorizationCode, runs+1)
	toConsume := make([]*models.AuthorizationCode, runs+1)
	toRevoke := make([]*models.Token, runs+1)
	rotations := make([]*models.Token, runs+2)
	for i := range tokens {
		tokens[i], codes[i], toConsume[i], toRevoke[i] = token(), code(), code(), token()
		must(s.CreateAuthorizationCode(ctx, toConsume[i]))
		must(s.CreateToken(ctx, toRevoke[i]))
	}
	for i := range rotations {
		rotations[i] = token()
	}
	must(s.CreateToken(ctx, rotations[0]))
	var i, j, k, r, v int
	ops := map[string]func(){
		"GetTokenByAccess": func() { _, err := s.GetTokenByAccess(ctx, live.AccessToken); must(err) },
		"GetTokenByAccess miss": func() {
			if _, err := s.GetTokenByAccess(ctx, "no-such-access-token-0123456789"); err == nil {
				t.Fatal("found a token never stored")
			}
		},
		"GetTokenByRefresh":        func() { _, err := s.GetTokenByRefresh(ctx, live.RefreshToken); must(err) },
		"GetAuthorizationCode":     func() { _, err := s.GetAuthorizationCode(ctx, liveCode.Code); must(err) },
		"CreateToken":              func() { must(s.CreateToken(ctx, tokens[i])); i++ },
		"CreateAuthorizationCode":  func() { must(s.CreateAuthorizationCode(ctx, codes[j])); j++ },
		"ConsumeAuthorizationCode": func() { _, err := s.ConsumeAuthorizationCode(ctx, toConsume[k].Code); must(err); k++ },
		"RotateToken": func() {
			must(s.RotateToken(ctx, rotations[r].RefreshToken, rotations[r+1]))
			r++
		},
		"RevokeToken": func() { must(s.RevokeToken(ctx, toRevoke[v].AccessToken)); v++ },
	}
	names := make([]string, 0, len(ops))
	for name := range ops {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		budget, ok := budgets[name]
		if !ok {
			t.Errorf("%s: no budget on %s", name, b.name)
			continue
		}
		got := testing.AllocsPerRun(runs, ops[name])
		t.Logf("%-26s %6.1f allocs/op (budget %.0f; the margin rule gives %.0f)", name, got, budget, budgetFor(got))
		if got > budget {
			t.Errorf("%s on %s: %.1f allocs/op, over its budget of %.0f", name, b.name, got, budget)
		}
	}
}
