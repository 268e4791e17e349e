package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Every way a model can be printed, encoded or logged keeps its secrets
// out, for values and pointers, alone and nested in other values.
func TestModelsRedactSecrets(t *testing.T) {
	const (
		clientSecret = "client-secret-Zq9x"
		secretHash   = "$2a$10$hash-of-the-secret-Ww3v"
		code         = "authorization-code-Kp2m"
		plain        = "plain-challenge-is-the-verifier-Tt7y"
		access       = "access-token-Hh5j"
		refresh      = "refresh-token-Nn8k"
	)
	secrets := []string{clientSecret, secretHash, code, plain, access, refresh}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	client := Client{ClientID: "client-1", ClientSecret: clientSecret, SecretHash: secretHash,
		GrantTypes: []GrantType{GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb"}, Scope: "read"}
	authCode := AuthorizationCode{Code: code, ClientID: "client-1", CodeChallenge: plain, CodeChallengeMethod: CodeChallengePlain,
		AuthTime: now, ExpiresIn: time.Minute, GrantID: "grant-1"}
	noMethod := authCode
	noMethod.CodeChallengeMethod = "" // plain too (RFC 7636 4.3)
	token := Token{AccessToken: access, RefreshToken: refresh, ClientID: "client-1", IssuedAt: now, ExpiresIn: time.Hour,
		RefreshTokenExpiresIn: 24 * time.Hour, GrantID: "grant-1"}
	values := map[string]any{
		"Client": client, "*Client": &client,
		"AuthorizationCode": authCode, "*AuthorizationCode": &authCode, "AuthorizationCode without method": noMethod,
		"Token": token, "*Token": &token,
		"[]any": []any{client, &authCode, token},
		"struct": struct {
			C *Client
			T Token
		}{&client, token},
		"map": map[string]*Token{"t": &token},
	}
	for name, v := range values {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
			outs = append(outs, verb+": "+fmt.Sprintf(verb, v))
		}
		outs = append(outs, "Sprint: "+fmt.Sprint(v), "Sprintln: "+fmt.Sprintln(v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", name, err)
		}
		outs = append(outs, "json: "+string(b))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(w *bytes.Buffer) slog.Handler { return slog.NewTextHandler(w, nil) },
			func(w *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("model", "value", v, slog.Any("any", v))
			outs = append(outs, "slog: "+buf.String())
		}
		for _, out := range outs {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s printed as %s contains a secret (%q)", name, out, s)
				}
			}
		}
		if !strings.Contains(strings.Join(outs, "\n"), "client-1") {
			t.Errorf("%s: the output does not show the client ID: redaction must keep the other fields", name)
		}
	}
	if got := fmt.Sprintf("%#v", token); !strings.HasPrefix(got, "models.Token{") || !strings.Contains(got, `AccessToken:"[REDACTED]"`) {
		t.Errorf("%%#v of a token = %s: want models.Token{... AccessToken:\"[REDACTED]\" ...}", got)
	}
	s256 := AuthorizationCode{CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: CodeChallengeS256}
	if got := fmt.Sprint(s256); !strings.Contains(got, s256.CodeChallenge) {
		t.Errorf("an S256 challenge is a hash, not a secret: want it printed, got %s", got)
	}
	empty := fmt.Sprintf("%+v", Token{ClientID: "c"})
	if strings.Contains(empty, Redacted) {
		t.Errorf("empty credentials print as %s: want them empty, so that the output tells whether one is set", empty)
	}
}
