package models

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestValidateRedirectURI(t *testing.T) {
	for _, uri := range []string{
		"https://app.example.com/callback",
		"https://app.example.com/cb?from=login&x=1",
		"http://127.0.0.1:8080/cb",
		"http://[::1]/cb",
		"com.example.app:/oauth2redirect",
		"com.example.app:/oauth2redirect/example-provider",
		"https://app.example.com/é",
	} {
		if err := ValidateRedirectURI(uri); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v, want nil", uri, err)
		}
	}
	for _, uri := range []string{
		"", "/callback", "callback", "app.example.com/cb", "localhost:8080",
		"https://app.example.com/cb#frag", "https://app.example.com/cb#",
		"https://app.example.com/a b", "https://app.example.com/cb\n", "https://app.example.com/\tcb",
		"https://app.example.com/cb\x00", "https:///cb", "http:cb", "https://app.example.com/cb\u00a0",
		"https://[::1/cb",
	} {
		if err := ValidateRedirectURI(uri); !errors.Is(err, ErrRedirectURI) {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ErrRedirectURI", uri, err)
		}
	}
}

func TestCheckRedirectURILoopback(t *testing.T) {
	c := Client{RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:3000/cb?x=1", "https://app.example.com/cb", "http://localhost/cb"}}
	for uri, want := range map[string]bool{
		"http://127.0.0.1/cb":            true,
		"http://127.0.0.1:51004/cb":      true,
		"http://[::1]:61000/cb?x=1":      true,
		"http://[::1]/cb?x=1":            true,
		"https://app.example.com/cb":     true,
		"https://app.example.com:444/cb": false, // not loopback: exact only
		"http://127.0.0.1:51004/cb2":     false,
		"http://127.0.0.1:51004/cb?x=1":  false,
		"https://127.0.0.1:51004/cb":     false,
		"http://localhost:51004/cb":      false, // RFC 8252 8.3: not localhost
		"http://127.0.0.2:51004/cb":      false, // another address
		"http://[::1]:61000/cb":          false,
		"http://user@127.0.0.1:5/cb":     false,
		"http://127.0.0.1:5/cb#f":        false,
	} {
		if got := c.CheckRedirectURILoopback(uri); got != want {
			t.Errorf("CheckRedirectURILoopback(%q) = %t, want %t", uri, got, want)
		}
		if exact := c.CheckRedirectURI(uri); exact && !want {
			t.Errorf("CheckRedirectURI(%q) is true but the loopback variant is false", uri)
		}
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestPKCEFormats(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
	for v, want := range map[string]bool{
		verifier:                   true,
		strings.Repeat("a", 43):    true,
		strings.Repeat("~._-", 32): true,
		strings.Repeat("a", 42):    false,
		strings.Repeat("a", 129):   false,
		verifier[:42] + "+":        false,
		verifier[:42] + "=":        false,
		verifier[:42] + "é":        false,
	} {
		if got := ValidCodeVerifier(v); got != want {
			t.Errorf("ValidCodeVerifier(%q) = %t, want %t", v, got, want)
		}
	}
	for _, c := range []struct {
		challenge string
		method    CodeChallengeMethod
		want      bool
	}{
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeS256, true},
		{s256("x"), CodeChallengeS256, true},
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", CodeChallengeS256, false}, // non-zero padding bits
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", CodeChallengeS256, false},
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", CodeChallengeS256, false},
		{verifier, CodeChallengePlain, true},
		{verifier, "", true},
		{"short", CodeChallengePlain, false},
		{verifier, "S512", false},
	} {
		if got := ValidCodeChallenge(c.challenge, c.method); got != c.want {
			t.Errorf("ValidCodeChallenge(%q, %q) = %t, want %t", c.challenge, c.method, got, c.want)
		}
	}
	// A malformed verifier never matches, even one equal to a plain challenge.
	a := AuthorizationCode{CodeChallenge: "short", CodeChallengeMethod: CodeChallengePlain}
	if a.CheckCodeChallenge("short") {
		t.Error("CheckCodeChallenge accepted a 5-character verifier")
	}
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example.com/cb", "com.example.app:/cb", "http://[::1]:80/x?y#z", "a b", "localhost:1", "https://%zz", "\x00", "https://é.example/é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if ValidateRedirectURI(uri) != nil {
			return
		}
		u, err := url.Parse(uri)
		switch {
		case err != nil:
			t.Fatalf("accepted %q, which does not parse: %v", uri, err)
		case u.Scheme == "":
			t.Fatalf("accepted %q without a scheme", uri)
		case strings.Contains(uri, "#"):
			t.Fatalf("accepted %q with a fragment", uri)
		case strings.IndexFunc(uri, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			t.Fatalf("accepted %q with white space or a control character", uri)
		}
		c := Client{RedirectURIs: []string{uri}}
		if !c.CheckRedirectURI(uri) || !c.CheckRedirectURILoopback(uri) {
			t.Fatalf("a registered URI %q does not match itself", uri)
		}
		if len(strings.Fields(uri)) != 1 {
			t.Fatalf("accepted %q, which splits on white space", uri)
		}
	})
}

func FuzzCodeChallenge(f *testing.F) {
	f.Add("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
	f.Add("short", "short", "plain")
	f.Add(strings.Repeat("~", 128), strings.Repeat("~", 128), "")
	f.Fuzz(func(t *testing.T, verifier, challenge, method string) {
		m := CodeChallengeMethod(method)
		a := AuthorizationCode{CodeChallenge: challenge, CodeChallengeMethod: m}
		if a.CheckCodeChallenge(verifier) && (!ValidCodeVerifier(verifier) || !ValidCodeChallenge(challenge, m)) {
			t.Fatalf("CheckCodeChallenge(%q) matched challenge %q (%q) though one of them is malformed", verifier, challenge, method)
		}
		if ValidCodeVerifier(verifier) {
			for _, c := range []struct {
				challenge string
				method    CodeChallengeMethod
			}{{s256(verifier), CodeChallengeS256}, {verifier, CodeChallengePlain}, {verifier, ""}} {
				if !ValidCodeChallenge(c.challenge, c.method) {
					t.Fatalf("the %q challenge of the valid verifier %q is not valid", c.method, verifier)
				}
				b := AuthorizationCode{CodeChallenge: c.challenge, CodeChallengeMethod: c.method}
				if !b.CheckCodeChallenge(verifier) {
					t.Fatalf("the valid verifier %q does not match its own %q challenge", verifier, c.method)
				}
			}
		}
	})
}

func FuzzClientChecks(f *testing.F) {
	f.Add("read write", "write  read admin", "code id_token", "authorization_code")
	f.Add("", " ", "", "")
	f.Fuzz(func(t *testing.T, allowed, requested, responseType, grant string) {
		c := Client{Scope: allowed, ResponseTypes: []ResponseType{ResponseTypeCode, ResponseTypeIDToken}, GrantTypes: []GrantType{GrantAuthorizationCode}}
		got := c.AllowedScope(requested)
		parts := strings.Fields(got)
		for i, s := range parts {
			if !slices.Contains(strings.Fields(allowed), s) || !slices.Contains(strings.Fields(requested), s) {
				t.Fatalf("AllowedScope(%q) with %q allowed gave %q, which is not both requested and allowed", requested, allowed, s)
			}
			if slices.Contains(parts[:i], s) {
				t.Fatalf("AllowedScope(%q) repeats %q", requested, s)
			}
		}
		if c.CheckScope(requested) && len(parts) != len(dedupe(strings.Fields(requested))) {
			t.Fatalf("CheckScope(%q) is true but AllowedScope dropped some of it: %q", requested, got)
		}
		if c.CheckResponseType(responseType) {
			for _, p := range strings.Fields(responseType) {
				if p != "code" && p != "id_token" {
					t.Fatalf("CheckResponseType(%q) allowed %q", responseType, p)
				}
			}
		}
		if c.CheckGrantType(GrantType(grant)) != (grant == "authorization_code") {
			t.Fatalf("CheckGrantType(%q) is wrong", grant)
		}
	})
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
