package backendkit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestCredentialsDigests(t *testing.T) {
	var zero Credentials
	if zero.Keyed() || zero.Digest("c") != secret.Digest("c") || len(zero.Digests("c")) != 1 {
		t.Fatal("the zero Credentials is not the unkeyed SHA-256")
	}
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	keys, err := secret.NewKeyed(b, a)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCredentials(keys, 0)
	ds := c.Digests("c")
	if len(ds) != 2 || ds[0] != c.Digest("c") || ds[0] == secret.Digest("c") {
		t.Fatalf("keyed Digests = %v: want the current key's digest first, neither the unkeyed one", ds)
	}
	sums := c.Sums("c")
	if fmt.Sprintf("%x", sums[1]) != ds[1] || c.Sum("c") != sums[0] {
		t.Error("Sums and Sum disagree with Digests")
	}
}

// Lookup tries each key in turn, stops at the first answer that is not
// ErrNotFound, and returns the last miss otherwise.
func TestLookup(t *testing.T) {
	a, b, c3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	keys, err := secret.NewKeyed(c3, b, a)
	if err != nil {
		t.Fatal(err)
	}
	cr := NewCredentials(keys, 0)
	ds := cr.Digests("cred")
	for _, tc := range []struct {
		name   string
		answer map[string]error // by digest; missing: found
		calls  int
		want   error
	}{
		{"found under the current key", map[string]error{}, 1, nil},
		{"found under the oldest key", map[string]error{ds[0]: storage.ErrNotFound, ds[1]: storage.ErrNotFound}, 3, nil},
		{"used under the middle key", map[string]error{ds[0]: storage.ErrNotFound, ds[1]: storage.ErrAlreadyUsed}, 2, storage.ErrAlreadyUsed},
		{"a failure stops", map[string]error{ds[0]: errors.New("connection reset")}, 1, nil},
		{"nowhere", map[string]error{ds[0]: storage.ErrNotFound, ds[1]: storage.ErrNotFound, ds[2]: fmt.Errorf("x: %w", storage.ErrNotFound)}, 3, storage.ErrNotFound},
	} {
		calls := 0
		_, err := Lookup(cr, "cred", func(d string) (int, error) {
			calls++
			return 0, tc.answer[d]
		})
		if calls != tc.calls {
			t.Errorf("%s: %d lookups, want %d", tc.name, calls, tc.calls)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.name == "a failure stops" && (err == nil || errors.Is(err, storage.ErrNotFound)) {
			t.Errorf("%s: err = %v, want the failure", tc.name, err)
		}
	}
}

func TestCredentialsMinLength(t *testing.T) {
	c := NewCredentials(nil, 10)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	code := &models.AuthorizationCode{Code: "short-cod", ClientID: "c", AuthTime: now, ExpiresIn: time.Minute}
	if _, err := c.NormalizeAuthorizationCode(code); !errors.Is(err, storage.ErrInvalid) || strings.Contains(err.Error(), code.Code) {
		t.Errorf("a 9-byte code with a minimum of 10: %v, want ErrInvalid without the code", err)
	}
	code.Code = "long-code!"
	if _, err := c.NormalizeAuthorizationCode(code); err != nil {
		t.Errorf("a 10-byte code: %v", err)
	}
	tok := &models.Token{AccessToken: "long-access", RefreshToken: "refresh", ClientID: "c", IssuedAt: now, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}
	if _, err := c.NormalizeToken(tok); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a 7-byte refresh token: %v, want ErrInvalid", err)
	}
	if _, err := c.NormalizeSuccessor(tok); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a 7-byte refresh token in a successor: %v, want ErrInvalid", err)
	}
	tok.RefreshToken = ""
	tok.RefreshTokenExpiresIn = 0
	if _, err := c.NormalizeToken(tok); err != nil {
		t.Errorf("no refresh token: %v", err)
	}
	if NewCredentials(nil, -5).MinLength() != 0 {
		t.Error("a negative minimum is not none")
	}
}
