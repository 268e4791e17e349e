package models

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Redacted is what a model shows instead of a secret it holds (a client
// secret or its hash, a code, an access or refresh token, a plain PKCE
// challenge) when it is printed with fmt, encoded as JSON or logged with
// log/slog. An empty secret stays empty, so the output still tells whether
// it is set.
const Redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// The view types have the models' fields and none of their methods: what
// the models print, marshal and log, once redacted.
type (
	clientView Client
	codeView   AuthorizationCode
	tokenView  Token
)

func (c Client) redacted() clientView {
	v := clientView(*c.Clone())
	v.ClientSecret = redact(c.ClientSecret)
	v.SecretHash = redact(c.SecretHash)
	return v
}

func (a AuthorizationCode) redacted() codeView {
	v := codeView(a)
	v.Code = redact(a.Code)
	if a.CodeChallengeMethod != CodeChallengeS256 {
		// A plain challenge is the verifier itself (RFC 7636 4.2).
		v.CodeChallenge = redact(a.CodeChallenge)
	}
	return v
}

func (t Token) redacted() tokenView {
	v := tokenView(t)
	v.AccessToken = redact(t.AccessToken)
	v.RefreshToken = redact(t.RefreshToken)
	return v
}

// format prints view, the redacted form of a model, for verb and the flags
// in f, naming the model's type rather than the view's for %#v.
func format(f fmt.State, verb rune, view any, viewName, name string) {
	s := fmt.Sprintf(fmt.FormatString(f, verb), view)
	if verb == 'v' && f.Flag('#') {
		s = strings.Replace(s, "models."+viewName, "models."+name, 1)
	}
	_, _ = f.Write([]byte(s))
}

// Format implements [fmt.Formatter]: every verb prints the client with its
// secret and secret hash [Redacted].
func (c Client) Format(f fmt.State, verb rune) { format(f, verb, c.redacted(), "clientView", "Client") }

// String returns the client as %v prints it, its secrets [Redacted].
func (c Client) String() string { return fmt.Sprintf("%v", c) }

// GoString returns the client as %#v prints it, its secrets [Redacted].
func (c Client) GoString() string { return fmt.Sprintf("%#v", c) }

// MarshalJSON implements [json.Marshaler] with the secrets [Redacted].
func (c Client) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// LogValue implements [slog.LogValuer] with the secrets [Redacted].
func (c Client) LogValue() slog.Value {
	v := c.redacted()
	return slog.GroupValue(
		slog.String("ClientID", v.ClientID),
		slog.String("ClientSecret", v.ClientSecret),
		slog.String("SecretHash", v.SecretHash),
		slog.Any("GrantTypes", v.GrantTypes),
		slog.Any("ResponseTypes", v.ResponseTypes),
		slog.Any("RedirectURIs", v.RedirectURIs),
		slog.String("Scope", v.Scope),
		slog.String("UserID", v.UserID),
	)
}

// Format implements [fmt.Formatter]: every verb prints the code with the
// code and a plain PKCE challenge [Redacted].
func (a AuthorizationCode) Format(f fmt.State, verb rune) {
	format(f, verb, a.redacted(), "codeView", "AuthorizationCode")
}

// String returns the code as %v prints it, its secrets [Redacted].
func (a AuthorizationCode) String() string { return fmt.Sprintf("%v", a) }

// GoString returns the code as %#v prints it, its secrets [Redacted].
func (a AuthorizationCode) GoString() string { return fmt.Sprintf("%#v", a) }

// MarshalJSON implements [json.Marshaler] with the secrets [Redacted].
func (a AuthorizationCode) MarshalJSON() ([]byte, error) { return json.Marshal(a.redacted()) }

// LogValue implements [slog.LogValuer] with the secrets [Redacted].
func (a AuthorizationCode) LogValue() slog.Value {
	v := a.redacted()
	return slog.GroupValue(
		slog.String("Code", v.Code),
		slog.String("ClientID", v.ClientID),
		slog.String("RedirectURI", v.RedirectURI),
		slog.String("ResponseType", string(v.ResponseType)),
		slog.String("Scope", v.Scope),
		slog.Time("AuthTime", v.AuthTime),
		slog.Duration("ExpiresIn", v.ExpiresIn),
		slog.String("CodeChallenge", v.CodeChallenge),
		slog.String("CodeChallengeMethod", string(v.CodeChallengeMethod)),
		slog.String("Nonce", v.Nonce),
		slog.String("UserID", v.UserID),
		slog.String("GrantID", v.GrantID),
	)
}

// Format implements [fmt.Formatter]: every verb prints the token with its
// access and refresh tokens [Redacted].
func (t Token) Format(f fmt.State, verb rune) { format(f, verb, t.redacted(), "tokenView", "Token") }

// String returns the token as %v prints it, its secrets [Redacted].
func (t Token) String() string { return fmt.Sprintf("%v", t) }

// GoString returns the token as %#v prints it, its secrets [Redacted].
func (t Token) GoString() string { return fmt.Sprintf("%#v", t) }

// MarshalJSON implements [json.Marshaler] with the secrets [Redacted].
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.redacted()) }

// LogValue implements [slog.LogValuer] with the secrets [Redacted].
func (t Token) LogValue() slog.Value {
	v := t.redacted()
	return slog.GroupValue(
		slog.String("AccessToken", v.AccessToken),
		slog.String("RefreshToken", v.RefreshToken),
		slog.String("Scope", v.Scope),
		slog.Time("IssuedAt", v.IssuedAt),
		slog.Duration("ExpiresIn", v.ExpiresIn),
		slog.Duration("RefreshTokenExpiresIn", v.RefreshTokenExpiresIn),
		slog.String("ClientID", v.ClientID),
		slog.String("TokenType", v.TokenType),
		slog.Bool("Revoked", v.Revoked),
		slog.String("UserID", v.UserID),
		slog.String("GrantID", v.GrantID),
	)
}
