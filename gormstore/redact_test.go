package gormstore

import (
	"fmt"
	"log"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/oauthstore/oauthstore/models"
)

// TestLogRedaction gives the store a *gorm.DB whose logger, at Info level,
// writes every statement with its values interpolated to a buffer; creates
// a confidential client, rotates its secret and creates a code with a
// plain PKCE challenge, on prepared and unprepared statements; and checks
// that the buffer holds the statements but no secret, secret hash or
// challenge, that the caller's logger is left as it was, and that the
// database got the real values: both secrets authenticate, the challenge
// reads back.
func TestLogRedaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, prepared := range []bool{true, false} {
			t.Run(fmt.Sprintf("prepared=%v", prepared), func(t *testing.T) {
				testLogRedaction(t, b, prepared)
			})
		}
	})
}

func testLogRedaction(t *testing.T, b backend, prepared bool) {
	ctx := t.Context()
	var buf syncBuffer
	lg := logger.New(log.New(&buf, "", 0), logger.Config{LogLevel: logger.Info, Colorful: false})
	db := b.open(t).Session(&gorm.Session{Logger: lg})
	clock := newTestClock()
	var opts []Option
	if !prepared {
		opts = append(opts, WithoutPreparedStatements())
	}
	s := newStore(t, db, clock, append(opts, WithTablePrefix(randomPrefix()))...)
	if b.name != sqliteDialect {
		t.Cleanup(func() { dropTables(t, db, s) })
	}
	if db.Logger != lg {
		t.Fatalf("New changed the caller's logger to %T", db.Logger)
	}

	const (
		firstSecret  = "first-secret-7f3c9a1e"
		secondSecret = "second-secret-2b8d4e6f"
	)
	challenge := "plain-challenge-" + strings.Repeat("Zq9", 12) // 52 characters, the verifier itself
	if err := s.CreateClient(ctx, &models.Client{ClientID: "redact-client", ClientSecret: firstSecret,
		GrantTypes: []models.GrantType{"authorization_code"}, RedirectURIs: []string{"https://redact.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetClient(ctx, "redact-client")
	if err != nil {
		t.Fatal(err)
	}
	firstHash := c.SecretHash
	if err := s.RotateClientSecret(ctx, "redact-client", secondSecret, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c, err = s.GetClient(ctx, "redact-client"); err != nil {
		t.Fatal(err)
	}
	secondHash := c.SecretHash
	if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "redact-code", ClientID: "redact-client",
		RedirectURI: "https://redact.example/cb", AuthTime: clock.Now(), ExpiresIn: time.Minute,
		CodeChallenge: challenge, CodeChallengeMethod: models.CodeChallengePlain}); err != nil {
		t.Fatal(err)
	}

	logged := buf.String()
	for _, want := range []string{"INSERT INTO " + s.t.clients, "UPDATE " + s.t.clients, "INSERT INTO " + s.t.codes, redactedText} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log does not show %q:\n%s", want, logged)
		}
	}
	for name, value := range map[string]string{"first secret": firstSecret, "second secret": secondSecret,
		"first hash": firstHash, "second hash": secondHash, "plain challenge": challenge} {
		if value == "" {
			t.Fatalf("%s is empty", name)
		}
		if strings.Contains(logged, value) {
			t.Errorf("the log shows the %s:\n%s", name, logged)
		}
	}

	// The database got the real values.
	if firstHash == secondHash {
		t.Fatal("the rotation did not change the hash")
	}
	for _, sec := range []string{firstSecret, secondSecret} {
		if _, err := s.AuthenticateClient(ctx, "redact-client", sec); err != nil {
			t.Errorf("AuthenticateClient: %v", err)
		}
	}
	code, err := s.GetAuthorizationCode(ctx, "redact-code")
	if err != nil {
		t.Fatal(err)
	}
	if code.CodeChallenge != challenge {
		t.Errorf("challenge read back as %q, want %q", code.CodeChallenge, challenge)
	}
}

// A redacted value formats as [REDACTED] whatever the verb.
func TestRedactedFormat(t *testing.T) {
	r := redacted("hash-value")
	for _, got := range []string{fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s %q %x", r, r, r, r, r, r)} {
		if strings.Contains(got, "hash-value") {
			t.Errorf("formatted as %q", got)
		}
	}
	if v, err := r.Value(); err != nil || v != "hash-value" {
		t.Errorf("Value() = %v, %v", v, err)
	}
}
