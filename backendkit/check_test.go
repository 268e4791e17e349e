package backendkit

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 123_456_789, time.FixedZone("CET", 3600))

func TestNormalizeToken(t *testing.T) {
	good := models.Token{AccessToken: "acc-secret", RefreshToken: "ref-secret", ClientID: "c", IssuedAt: t0,
		ExpiresIn: time.Hour + time.Microsecond, RefreshTokenExpiresIn: 24 * time.Hour}
	n, err := NormalizeToken(&good)
	if err != nil {
		t.Fatal(err)
	}
	if n.IssuedAt.Location() != time.UTC || n.IssuedAt.Nanosecond() != 123_000_000 || n.ExpiresIn != time.Hour || n.TokenType != "Bearer" {
		t.Errorf("normalized = %+v: want UTC, millisecond precision, Bearer", n)
	}
	if good.TokenType != "" || good.IssuedAt != t0 {
		t.Error("NormalizeToken modified its argument")
	}
	bad := map[string]func(*models.Token){
		"nil access":           func(x *models.Token) { x.AccessToken = "" },
		"no client":            func(x *models.Token) { x.ClientID = "" },
		"zero issued":          func(x *models.Token) { x.IssuedAt = time.Time{} },
		"sub-ms lifetime":      func(x *models.Token) { x.ExpiresIn = time.Microsecond },
		"negative lifetime":    func(x *models.Token) { x.ExpiresIn = -time.Hour },
		"refresh no lifetime":  func(x *models.Token) { x.RefreshTokenExpiresIn = 0 },
		"lifetime no refresh":  func(x *models.Token) { x.RefreshToken = "" },
		"refresh equal access": func(x *models.Token) { x.RefreshToken = x.AccessToken },
	}
	for name, mutate := range bad {
		tok := good
		mutate(&tok)
		_, err := NormalizeToken(&tok)
		if !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: err = %v, want storage.ErrInvalid", name, err)
			continue
		}
		if strings.Contains(err.Error(), "acc-secret") || strings.Contains(err.Error(), "ref-secret") {
			t.Errorf("%s: error %q contains a token", name, err)
		}
	}
	if _, err := NormalizeToken(nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("nil token: err = %v", err)
	}
}

func TestNormalizeCodeAndClient(t *testing.T) {
	code := models.AuthorizationCode{Code: "code-secret", ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}
	for name, mutate := range map[string]func(*models.AuthorizationCode){
		"empty code":               func(x *models.AuthorizationCode) { x.Code = "" },
		"no client":                func(x *models.AuthorizationCode) { x.ClientID = "" },
		"zero auth time":           func(x *models.AuthorizationCode) { x.AuthTime = time.Time{} },
		"sub-ms lifetime":          func(x *models.AuthorizationCode) { x.ExpiresIn = time.Nanosecond },
		"unknown method":           func(x *models.AuthorizationCode) { x.CodeChallenge, x.CodeChallengeMethod = "x", "S512" },
		"method without challenge": func(x *models.AuthorizationCode) { x.CodeChallengeMethod = models.CodeChallengeS256 },
	} {
		c := code
		mutate(&c)
		if _, err := NormalizeAuthorizationCode(&c); !errors.Is(err, storage.ErrInvalid) || strings.Contains(err.Error(), "code-secret") {
			t.Errorf("%s: err = %v, want storage.ErrInvalid without the code", name, err)
		}
	}
	client := models.Client{ClientID: "c", ClientSecret: "s3cret", SecretHash: "stale", GrantTypes: []models.GrantType{models.GrantPassword}}
	n, err := NormalizeClient(&client)
	if err != nil || n.SecretHash != "" || n.ClientSecret != "s3cret" {
		t.Fatalf("NormalizeClient = %+v, %v: want the secret kept for hashing and SecretHash cleared", n, err)
	}
	n.GrantTypes[0] = models.GrantRefreshToken
	if client.GrantTypes[0] != models.GrantPassword {
		t.Error("NormalizeClient aliases the caller's slices")
	}
	for name, c := range map[string]models.Client{
		"empty ID":      {},
		"unknown grant": {ClientID: "c", GrantTypes: []models.GrantType{"implicit"}},
		"unknown type":  {ClientID: "c", ResponseTypes: []models.ResponseType{"code token"}},
		"empty URI":     {ClientID: "c", RedirectURIs: []string{""}},
	} {
		if _, err := NormalizeClient(&c); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: err = %v, want storage.ErrInvalid", name, err)
		}
	}
}

func TestChecks(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	code := &models.AuthorizationCode{ClientID: "c", AuthTime: now, ExpiresIn: time.Minute}
	if err := CheckCode(code, false, now.Add(time.Minute)); err != nil {
		t.Errorf("code at its expiry instant: %v, want live", err)
	}
	if err := CheckCode(code, false, now.Add(time.Minute+time.Millisecond)); !errors.Is(err, storage.ErrExpired) {
		t.Errorf("expired code: %v", err)
	}
	if err := CheckCode(code, true, now.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("used and expired code: %v, want ErrAlreadyUsed", err)
	}
	tok := &models.Token{ClientID: "c", IssuedAt: now, ExpiresIn: time.Minute, RefreshToken: "r", RefreshTokenExpiresIn: time.Hour}
	later := now.Add(2 * time.Minute)
	if err := CheckAccess(tok, later); !errors.Is(err, storage.ErrExpired) {
		t.Errorf("expired access: %v", err)
	}
	if err := CheckRefresh(tok, later); err != nil {
		t.Errorf("live refresh: %v", err)
	}
	if got := PurgeAt(tok); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("PurgeAt = %v, want the refresh expiry", got)
	}
	tok.Revoked = true
	if err := CheckAccess(tok, later); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("revoked and expired access: %v, want ErrRevoked first", err)
	}
	if err := CheckRefresh(tok, now); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("revoked refresh: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CtxErr(ctx, "op"); !errors.Is(err, context.Canceled) {
		t.Errorf("CtxErr = %v", err)
	}
	if err := CtxErr(context.Background(), "op"); err != nil {
		t.Errorf("CtxErr on a live context = %v", err)
	}
}

func TestNewGrantID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewGrantID()
		if len(id) != 22 {
			t.Fatalf("NewGrantID() = %q: want 22 base64url characters (128 bits)", id)
		}
		for _, r := range id {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("NewGrantID() = %q: %q is not base64url", id, r)
			}
		}
		if seen[id] {
			t.Fatalf("NewGrantID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestNormalizeAssignsGrantID(t *testing.T) {
	tok := models.Token{AccessToken: "a", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour}
	n, err := NormalizeToken(&tok)
	if err != nil || n.GrantID == "" || tok.GrantID != "" {
		t.Fatalf("NormalizeToken: GrantID %q, caller's %q, err %v: want a new one, the caller's untouched", n.GrantID, tok.GrantID, err)
	}
	s, err := NormalizeSuccessor(&tok)
	if err != nil || s.GrantID != "" {
		t.Fatalf("NormalizeSuccessor: GrantID %q, err %v: want it left empty for Successor", s.GrantID, err)
	}
	code := models.AuthorizationCode{Code: "x", ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute, GrantID: "given"}
	nc, err := NormalizeAuthorizationCode(&code)
	if err != nil || nc.GrantID != "given" {
		t.Fatalf("NormalizeAuthorizationCode kept GrantID %q, err %v: want the given one", nc.GrantID, err)
	}
	code.GrantID = strings.Repeat("g", MaxIDLen+1)
	if _, err := NormalizeAuthorizationCode(&code); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a grant ID over MaxIDLen: err = %v, want ErrInvalid", err)
	}
	tok.Revoked = true
	if _, err := NormalizeToken(&tok); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a token created revoked: err = %v, want ErrInvalid", err)
	}
}

func TestSuccessor(t *testing.T) {
	old := &models.Token{ClientID: "c", GrantID: "g"}
	next := models.Token{ClientID: "c"}
	if err := Successor(old, &next); err != nil || next.GrantID != "g" {
		t.Fatalf("Successor: GrantID %q, err %v: want the old pair's", next.GrantID, err)
	}
	for name, n := range map[string]models.Token{
		"other client": {ClientID: "d"},
		"other grant":  {ClientID: "c", GrantID: "h"},
	} {
		if err := Successor(old, &n); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestReuseWithinInterval(t *testing.T) {
	at := t0
	for _, c := range []struct {
		rotated  time.Time
		interval time.Duration
		now      time.Time
		want     bool
	}{
		{at, time.Minute, at, true},
		{at, time.Minute, at.Add(time.Minute), true},
		{at, time.Minute, at.Add(time.Minute + time.Nanosecond), false},
		{at, 0, at, false},
		{time.Time{}, time.Minute, at, false},
	} {
		if got := ReuseWithinInterval(c.rotated, c.interval, c.now); got != c.want {
			t.Errorf("ReuseWithinInterval(%v, %v, %v) = %t, want %t", c.rotated, c.interval, c.now, got, c.want)
		}
	}
	for _, revoked := range []bool{true, false} {
		if err := ReuseError("c", revoked); !errors.Is(err, storage.ErrRevoked) {
			t.Errorf("ReuseError(%t) = %v, want ErrRevoked", revoked, err)
		}
	}
}

func TestCeilMillis(t *testing.T) {
	base := time.UnixMilli(1_000_000).UTC()
	for _, c := range []struct {
		now  time.Time
		want int64
	}{
		{base, 1_000_000},
		{base.Add(time.Nanosecond), 1_000_001},
		{base.Add(999 * time.Microsecond), 1_000_001},
		{base.Add(-time.Nanosecond), 1_000_000},
	} {
		if got := CeilMillis(c.now); got != c.want {
			t.Errorf("CeilMillis(%v) = %d, want %d", c.now, got, c.want)
		}
	}
	// The integer rule agrees with models: expired exactly when e < CeilMillis(now).
	e := base
	for _, d := range []time.Duration{-time.Millisecond, 0, time.Nanosecond, time.Microsecond, time.Millisecond} {
		now := e.Add(d)
		if got, want := e.UnixMilli() < CeilMillis(now), now.After(e); got != want {
			t.Errorf("at expiry%+v: integer rule says expired=%t, time.After says %t", d, got, want)
		}
	}
}

// countingHasher counts verifications, to show that every outcome pays
// for one.
type countingHasher struct {
	secret.Hasher
	verifies atomic.Int32
}

func (h *countingHasher) Verify(hash, s string) bool {
	h.verifies.Add(1)
	return h.Hasher.Verify(hash, s)
}

func TestClientAuthVerify(t *testing.T) {
	h := &countingHasher{Hasher: secret.ForTests()}
	a := NewClientAuth(h)
	cur, err := a.Hash("create client", "c", "current-secret")
	if err != nil {
		t.Fatal(err)
	}
	prev, err := a.Hash("create client", "c", "previous-secret")
	if err != nil {
		t.Fatal(err)
	}
	rotated := Secrets{Hash: cur, PreviousHash: prev, PreviousUntil: t0.Add(time.Hour)}
	for _, c := range []struct {
		name        string
		found       bool
		s           Secrets
		secret      string
		now         time.Time
		want        error
		minVerifies int32
	}{
		{"current secret", true, rotated, "current-secret", t0, nil, 1},
		{"previous secret within its overlap", true, rotated, "previous-secret", t0.Add(time.Hour), nil, 2},
		{"previous secret after its overlap", true, rotated, "previous-secret", t0.Add(time.Hour + time.Nanosecond), storage.ErrInvalidSecret, 1},
		{"wrong secret", true, rotated, "wrong", t0, storage.ErrInvalidSecret, 2},
		{"empty secret", true, rotated, "", t0, storage.ErrInvalidSecret, 1},
		{"public client", true, Secrets{}, "anything", t0, storage.ErrInvalidSecret, 1},
		{"unknown client", false, Secrets{}, "anything", t0, storage.ErrNotFound, 1},
	} {
		h.verifies.Store(0)
		err := a.Verify("authenticate client", "c", c.found, c.s, c.secret, c.now)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if n := h.verifies.Load(); n < c.minVerifies {
			t.Errorf("%s: %d slow verifications, want at least %d (an unknown or public client must cost what a known one does)", c.name, n, c.minVerifies)
		}
		if err != nil && strings.Contains(err.Error(), c.secret) && c.secret != "" {
			t.Errorf("%s: error %q contains the secret", c.name, err)
		}
	}
}
