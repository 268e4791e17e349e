package backendkit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
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
