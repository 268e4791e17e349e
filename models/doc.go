// Package models defines the records an OAuth 2.0 authorization server
// persists: [Client], [AuthorizationCode] and [Token].
//
// The fields and helpers follow the models of the Python library aioauth,
// in idiomatic Go: lifetimes are [time.Duration], instants are [time.Time],
// and aioauth's "user" is the owner's identifier, UserID.
//
// # Expiry
//
// A credential is still valid at the exact instant it expires and expired
// after it, as in aioauth: [Token.IsExpiredAt] is now > IssuedAt+ExpiresIn.
// Every IsExpired method has an IsExpiredAt twin that takes the instant to
// judge at, so that callers with an injected clock never read the wall
// clock.
//
// # Client checks
//
// [Client.CheckRedirectURI] matches redirect URIs exactly, with no prefix
// matching or normalisation. [Client.CheckResponseType] allows a
// space-separated value such as "code id_token" only if every part is
// allowed. [Client.AllowedScope] and [Client.CheckScope] work on
// space-separated scopes.
//
// # PKCE
//
// [AuthorizationCode.CheckCodeChallenge] verifies an RFC 7636 code verifier
// against the stored challenge for the plain and S256 methods, in constant
// time.
package models
