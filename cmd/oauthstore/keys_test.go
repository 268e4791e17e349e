package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/internal/dsn"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
)

// A server with keyed digests is operated with its keys from the
// environment: revoke finds its tokens; without the keys, or with others,
// it finds none; a malformed key list is a usage error that does not
// repeat the keys.
func TestDigestKeysFromEnv(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "keyed.db")
	keyText := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	keys, err := secret.ParseKeyed(keyText)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, closeFn, err := dsn.Open(ctx, db, dsn.WithClock(testClock), dsn.WithHasher(secret.ForTests()), dsn.WithDigestKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	const access = "access-token-of-a-keyed-server-0123456789"
	if err := s.CreateToken(ctx, &models.Token{AccessToken: access, ClientID: "c", IssuedAt: testClock(), ExpiresIn: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	withKeys := func(code int, keysText string, args ...string) result {
		t.Helper()
		a, out, errOut := newTestApp("")
		a.getenv = func(k string) string {
			if k == secret.KeysEnv {
				return keysText
			}
			return ""
		}
		r := result{code: a.run(ctx, args)}
		r.stdout, r.stderr = out.String(), errOut.String()
		return want(t, r, code, args...)
	}
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))
	withKeys(exitNotFound, "", "revoke", "token", access, "--dsn", db)
	withKeys(exitNotFound, other, "revoke", "token", access, "--dsn", db)
	withKeys(0, keyText, "revoke", "token", access, "--dsn", db)
	withKeys(0, other+","+keyText, "revoke", "token", access, "--dsn", db) // after a rotation
	short := base64.StdEncoding.EncodeToString([]byte("too-short-a-key"))
	r := withKeys(exitUsage, short, "revoke", "token", access, "--dsn", db)
	if !strings.Contains(r.stderr, secret.KeysEnv) || strings.Contains(r.stderr, short) {
		t.Errorf("a malformed key list: want an error naming %s and not the key:\n%s", secret.KeysEnv, r)
	}
}
