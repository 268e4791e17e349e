package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
)

// allocBudget is the most heap allocations each operation may make, on
// average, in steady state (testing.AllocsPerRun). They are what the
// operation must allocate (the record it stores, the copy it returns, a
// new grant ID), so an increase is a regression to look at, not noise.
var allocBudget = map[string]float64{
	"GetTokenByAccess":         1, // the returned *Token
	"GetTokenByAccess miss":    0,
	"GetTokenByRefresh":        1,
	"GetAuthorizationCode":     1,
	"CreateToken":              2, // record, grant ID (the grant index is threaded through the records)
	"CreateAuthorizationCode":  3, // record, grant ID, the redirect URI's url.Parse
	"ConsumeAuthorizationCode": 1, // the returned *AuthorizationCode
	"RotateToken":              1, // the new pair's record (the grant exists)
	"RevokeToken":              0,
}

// TestAllocBudgets keeps every hot operation within its allocation budget.
func TestAllocBudgets(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are checked without -race (see race_test.go)")
	}
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(WithClock(func() time.Time { return now }), WithHasher(secret.ForTests()))
	const runs = 2000
	n := 0
	next := func(kind string) string { n++; return fmt.Sprintf("%s-%032d", kind, n) }
	token := func() *models.Token {
		return &models.Token{AccessToken: next("access"), RefreshToken: next("refresh"), ClientID: "client", Scope: "read",
			IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour, UserID: "user"}
	}
	code := func() *models.AuthorizationCode {
		return &models.AuthorizationCode{Code: next("code"), ClientID: "client", RedirectURI: "https://app.example/cb",
			ResponseType: "code", Scope: "read", AuthTime: now, ExpiresIn: time.Minute, UserID: "user"}
	}
	live, revoked := token(), token()
	must(t, s.CreateToken(ctx, live))
	must(t, s.CreateToken(ctx, revoked))
	liveCode := code()
	must(t, s.CreateAuthorizationCode(ctx, liveCode))

	// Inputs made before measuring, so that only the store's allocations count.
	tokens := make([]*models.Token, runs+1)
	codes := make([]*models.AuthorizationCode, runs+1)
	toConsume := make([]*models.AuthorizationCode, runs+1)
	rotations := make([]*models.Token, runs+2)
	for i := range tokens {
		tokens[i], codes[i], toConsume[i] = token(), code(), code()
		must(t, s.CreateAuthorizationCode(ctx, toConsume[i]))
	}
	for i := range rotations {
		rotations[i] = token()
	}
	must(t, s.CreateToken(ctx, rotations[0]))
	var i, j, k, r int
	ops := map[string]func(){
		"GetTokenByAccess":         func() { _, _ = s.GetTokenByAccess(ctx, live.AccessToken) },
		"GetTokenByAccess miss":    func() { _, _ = s.GetTokenByAccess(ctx, "no-such-access-token-0123456789") },
		"GetTokenByRefresh":        func() { _, _ = s.GetTokenByRefresh(ctx, live.RefreshToken) },
		"GetAuthorizationCode":     func() { _, _ = s.GetAuthorizationCode(ctx, liveCode.Code) },
		"CreateToken":              func() { must(t, s.CreateToken(ctx, tokens[i])); i++ },
		"CreateAuthorizationCode":  func() { must(t, s.CreateAuthorizationCode(ctx, codes[j])); j++ },
		"ConsumeAuthorizationCode": func() { _, err := s.ConsumeAuthorizationCode(ctx, toConsume[k].Code); must(t, err); k++ },
		"RotateToken": func() {
			must(t, s.RotateToken(ctx, rotations[r].RefreshToken, rotations[r+1]))
			r++
		},
		"RevokeToken": func() { must(t, s.RevokeToken(ctx, revoked.AccessToken)) },
	}
	for name, budget := range allocBudget {
		got := testing.AllocsPerRun(runs, ops[name])
		t.Logf("%-26s %4.1f allocs/op (budget %.0f)", name, got, budget)
		if got > budget {
			t.Errorf("%s: %.1f allocs/op, over its budget of %.0f", name, got, budget)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
