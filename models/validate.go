package models

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// ValidCodeVerifier reports whether v is a PKCE code verifier as RFC 7636
// 4.1 defines it: 43 to 128 characters of [A-Za-z0-9-._~].
func ValidCodeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return false
		}
	}
	return true
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// ValidCodeChallenge reports whether challenge is well-formed for method
// (RFC 7636 4.2): for S256, the unpadded base64url encoding of a SHA-256,
// 43 characters; for plain (or an empty method, which means plain), a
// valid code verifier, since a plain challenge is the verifier itself.
func ValidCodeChallenge(challenge string, method CodeChallengeMethod) bool {
	switch method {
	case CodeChallengeS256:
		if len(challenge) != 43 {
			return false
		}
		for i := 0; i < len(challenge); i++ {
			c := challenge[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
		// The last character carries 4 bits of the digest and 2 of padding,
		// which must be zero: only 16 of the 64 characters can end it.
		return strings.IndexByte("AEIMQUYcgkosw048", challenge[42]) >= 0
	case CodeChallengePlain, "":
		return ValidCodeVerifier(challenge)
	}
	return false
}

// ErrRedirectURI is wrapped by the errors [ValidateRedirectURI] returns.
var ErrRedirectURI = errors.New("invalid redirect URI")

// ValidateRedirectURI returns nil if uri may be registered as a redirect
// URI (RFC 6749 3.1.2, RFC 8252 7): an absolute URI, with a scheme, that
// parses, without a fragment, and without white space or control
// characters (so that a list of URIs can never be split inside one). The
// private-use schemes of native apps (com.example.app:/callback, RFC 8252
// 7.1) and loopback http URIs (RFC 8252 7.3) are absolute URIs and are
// accepted. Errors wrap [ErrRedirectURI].
func ValidateRedirectURI(uri string) error {
	if uri == "" {
		return fmt.Errorf("%w: empty", ErrRedirectURI)
	}
	if i := strings.IndexFunc(uri, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return fmt.Errorf("%w: white space or a control character at byte %d", ErrRedirectURI, i)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("%w: does not parse", ErrRedirectURI)
	}
	switch {
	case u.Scheme == "":
		return fmt.Errorf("%w: not absolute (no scheme)", ErrRedirectURI)
	case strings.Contains(uri, "#"):
		return fmt.Errorf("%w: has a fragment (RFC 6749 3.1.2)", ErrRedirectURI)
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return fmt.Errorf("%w: %s URI without a host", ErrRedirectURI, u.Scheme)
	case u.Opaque != "" && u.Path == "" && u.Host == "" && !strings.Contains(u.Opaque, "/") && !strings.Contains(u.Opaque, ":"):
		// "localhost:8080" parses as scheme "localhost"; a real private-use
		// redirect has a path (RFC 8252 7.1: com.example.app:/oauth2redirect).
		return fmt.Errorf("%w: not absolute (looks like a host and port without a scheme)", ErrRedirectURI)
	}
	return nil
}

// CheckRedirectURILoopback reports whether uri is one of the registered
// redirect URIs, allowing any port for loopback ones, as RFC 8252 7.3 asks
// of native apps that listen on an ephemeral port: a registered
// http://127.0.0.1/cb or http://[::1]/cb (with or without a port) matches
// uri with the same scheme, address, path and query on any port. Every
// other URI must match exactly, as in [Client.CheckRedirectURI]. Use it
// only for clients that are native apps; "localhost" is not a loopback
// address here (RFC 8252 8.3).
func (c *Client) CheckRedirectURILoopback(uri string) bool {
	if c.CheckRedirectURI(uri) {
		return true
	}
	got, ok := loopbackWithoutPort(uri)
	if !ok {
		return false
	}
	return slices.ContainsFunc(c.RedirectURIs, func(r string) bool {
		reg, ok := loopbackWithoutPort(r)
		return ok && reg == got
	})
}

// loopbackWithoutPort returns uri without its port if it is an http URI on
// a loopback IP literal.
func loopbackWithoutPort(uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || strings.Contains(uri, "#") {
		return "", false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return "", false
	}
	u.Host = u.Hostname()
	if strings.Contains(u.Host, ":") {
		u.Host = "[" + u.Host + "]"
	}
	return u.String(), true
}
