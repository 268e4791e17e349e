package walkthrough_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/walkthrough"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/secret"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// The steps the walkthrough must print, in order.
var steps = []string{
	"[1] Client registered",
	"[2] Authorization code issued",
	"server says: UNSAFE DEMO: signed in as demo user",
	"[3] Code exchanged with PKCE S256",
	"[4] Access token used",
	"→ 200 sub=demo-user",
	"active=true",
	"[5] Refreshed with oauth2.TokenSource",
	"old access_token introspected → active=false",
	"[6] Old refresh token replayed: reuse detected, the grant revoked",
	"as by an attacker who stole it → invalid_grant",
	"the client's new access_token",
	"→ active=false: the store revoked every token of the grant",
	"its new refresh_token",
	"→ invalid_grant: it must be authorized again",
	"[7] Second grant: its code replayed, refused, the grant revoked",
	"same code exchanged again → invalid_grant",
	"→ active=false: a replayed code revokes the tokens issued from it",
	"[8] Third grant: revoked (RFC 7009)",
	"[9] Introspection after revocation (RFC 7662)",
	"access_token  ",
	"→ active=false",
	"refresh with the revoked refresh token → invalid_grant",
	"[10] Purged",
	"PurgeExpired deleted 7 records",
	"Done:",
}

// A credential printed whole: codes, tokens and secrets are 43 base64url
// characters.
var longCredential = regexp.MustCompile(`[A-Za-z0-9_-]{40,}`)

func check(t *testing.T, out string) {
	t.Helper()
	rest := out
	for _, s := range steps {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("step %q missing or out of order in:\n%s", s, out)
		}
		rest = rest[i+len(s):]
	}
	if m := longCredential.FindString(out); m != "" {
		t.Fatalf("the walkthrough printed a long credential-like string %q", m)
	}
	if !strings.Contains(out, "(43 chars)") {
		t.Fatal("no abbreviated credential printed")
	}
}

func TestWalkthroughDefaultSQLite(t *testing.T) {
	var out bytes.Buffer
	if err := walkthrough.Run(context.Background(), walkthrough.Options{Out: &out, Hasher: secret.ForTests()}); err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "backend sqlite:") {
		t.Fatalf("not on a SQLite file:\n%s", out.String())
	}
	check(t, out.String())
}

func TestWalkthroughOtherBackends(t *testing.T) {
	uri, err := mongoenv.FerretDBURI()
	if err != nil {
		t.Fatalf("FerretDB: %v", err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/walkthrough_test" // a database of its own
	for name, dsn := range map[string]string{"memory": "memory:", "ferretdb": u.String()} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := walkthrough.Run(context.Background(), walkthrough.Options{Out: &out, DSN: dsn, Hasher: secret.ForTests()}); err != nil {
				t.Fatalf("walkthrough: %v\n%s", err, out.String())
			}
			check(t, out.String())
		})
	}
}

func TestAbbrev(t *testing.T) {
	for in, want := range map[string]string{
		"eyJhbGciOiJIUzI1NiJ9xxxxxxxxxxxxxxxxxxxxxxx": "eyJh…(43 chars)",
		"abc": "…(3 chars)",
	} {
		if got := walkthrough.Abbrev(in); got != want {
			t.Errorf("Abbrev(%q) = %q, want %q", in, got, want)
		}
	}
}
