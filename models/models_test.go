package models

import (
	"testing"
	"time"
)

func TestCheckCodeChallenge(t *testing.T) {
	// RFC 7636 appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const s256 = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	tests := []struct {
		name      string
		challenge string
		method    CodeChallengeMethod
		verifier  string
		want      bool
	}{
		{"S256 match", s256, CodeChallengeS256, verifier, true},
		{"S256 wrong verifier", s256, CodeChallengeS256, verifier + "x", false},
		{"S256 challenge sent as verifier", s256, CodeChallengeS256, s256, false},
		{"plain match", verifier, CodeChallengePlain, verifier, true},
		{"empty method is plain", verifier, "", verifier, true},
		{"plain mismatch", verifier, CodeChallengePlain, "other", false},
		{"no challenge", "", "", verifier, false},
		{"empty verifier", s256, CodeChallengeS256, "", false},
		{"unknown method", verifier, "S512", verifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := AuthorizationCode{CodeChallenge: tt.challenge, CodeChallengeMethod: tt.method}
			if got := c.CheckCodeChallenge(tt.verifier); got != tt.want {
				t.Errorf("CheckCodeChallenge = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestClientChecks(t *testing.T) {
	c := Client{
		GrantTypes:    []GrantType{GrantAuthorizationCode, GrantRefreshToken},
		ResponseTypes: []ResponseType{ResponseTypeCode, ResponseTypeIDToken},
		RedirectURIs:  []string{"https://app.example/cb"},
		Scope:         "read write profile",
	}
	uris := map[string]bool{
		"https://app.example/cb":       true,
		"https://app.example/cb/":      false,
		"https://app.example/cb?x=1":   false,
		"https://app.example/c":        false,
		"HTTPS://app.example/cb":       false,
		"":                             false,
		"https://app.example/cb#frag":  false,
		"https://evil.example/cb":      false,
		"https://app.example/cb/extra": false,
	}
	for u, want := range uris {
		if got := c.CheckRedirectURI(u); got != want {
			t.Errorf("CheckRedirectURI(%q) = %t, want %t", u, got, want)
		}
	}
	grants := map[GrantType]bool{GrantAuthorizationCode: true, GrantRefreshToken: true, GrantPassword: false, GrantClientCredentials: false, "": false}
	for g, want := range grants {
		if got := c.CheckGrantType(g); got != want {
			t.Errorf("CheckGrantType(%q) = %t, want %t", g, got, want)
		}
	}
	responses := map[string]bool{"code": true, "code id_token": true, "id_token  code": true, "code token": false, "token": false, "": false, "  ": false}
	for r, want := range responses {
		if got := c.CheckResponseType(r); got != want {
			t.Errorf("CheckResponseType(%q) = %t, want %t", r, got, want)
		}
	}
	if got := c.AllowedScope("write admin read write"); got != "write read" {
		t.Errorf("AllowedScope = %q, want %q", got, "write read")
	}
	if got := c.AllowedScope("admin"); got != "" {
		t.Errorf("AllowedScope(admin) = %q, want empty", got)
	}
	if !c.CheckScope("read profile") || c.CheckScope("read admin") || !c.CheckScope("") {
		t.Error("CheckScope: want read+profile and empty allowed, admin refused")
	}
	if !(&Client{}).IsPublic() || (&Client{ClientSecret: "s"}).IsPublic() || (&Client{SecretHash: "h"}).IsPublic() {
		t.Error("IsPublic: only a client with neither secret nor hash is public")
	}
}

func TestExpiryBoundaries(t *testing.T) {
	issued := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	code := AuthorizationCode{AuthTime: issued, ExpiresIn: time.Minute}
	if !code.ExpiresAt().Equal(issued.Add(time.Minute)) {
		t.Fatalf("ExpiresAt = %v", code.ExpiresAt())
	}
	if code.IsExpiredAt(issued.Add(time.Minute)) {
		t.Error("code expired at the exact instant of expiry, want valid")
	}
	if !code.IsExpiredAt(issued.Add(time.Minute + time.Nanosecond)) {
		t.Error("code valid after expiry")
	}

	tok := Token{IssuedAt: issued, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}
	if tok.IsExpiredAt(issued.Add(time.Minute)) || !tok.IsExpiredAt(issued.Add(time.Minute+time.Millisecond)) {
		t.Error("access expiry boundary wrong")
	}
	if tok.RefreshTokenExpiredAt(issued.Add(time.Hour)) || !tok.RefreshTokenExpiredAt(issued.Add(time.Hour+time.Millisecond)) {
		t.Error("refresh expiry boundary wrong")
	}
	if !tok.RefreshTokenExpiresAt().Equal(issued.Add(time.Hour)) {
		t.Errorf("RefreshTokenExpiresAt = %v", tok.RefreshTokenExpiresAt())
	}
	noRefresh := Token{IssuedAt: issued, ExpiresIn: time.Minute}
	if !noRefresh.RefreshTokenExpiredAt(issued) {
		t.Error("a token without a refresh lifetime has a live refresh token")
	}
	if noRefresh.Type() != "Bearer" || (&Token{TokenType: "DPoP"}).Type() != "DPoP" {
		t.Error("Type: want Bearer by default, the set type otherwise")
	}
}

func TestEnumsValid(t *testing.T) {
	for _, g := range []GrantType{GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken} {
		if !g.Valid() {
			t.Errorf("%q not valid", g)
		}
	}
	for _, r := range []ResponseType{ResponseTypeCode, ResponseTypeToken, ResponseTypeIDToken, ResponseTypeNone} {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
	}
	if GrantType("implicit").Valid() || ResponseType("code token").Valid() || CodeChallengeMethod("s256").Valid() {
		t.Error("unknown values reported valid")
	}
}

func TestClientClone(t *testing.T) {
	c := &Client{ClientID: "a", GrantTypes: []GrantType{GrantPassword}, ResponseTypes: []ResponseType{ResponseTypeCode}, RedirectURIs: []string{"https://a/cb"}}
	d := c.Clone()
	d.GrantTypes[0], d.ResponseTypes[0], d.RedirectURIs[0] = GrantRefreshToken, ResponseTypeNone, "https://b/cb"
	if c.GrantTypes[0] != GrantPassword || c.ResponseTypes[0] != ResponseTypeCode || c.RedirectURIs[0] != "https://a/cb" {
		t.Fatalf("changing the clone changed the original: %+v", c)
	}
	if d.ClientID != "a" {
		t.Fatalf("clone lost ClientID")
	}
}
