// Package storage is the contract between an OAuth 2.0 authorization server
// and the stores that persist its clients, authorization codes and tokens.
//
// [Storage] is the whole contract; [ClientStore], [AuthorizationCodeStore]
// and [TokenStore] are its parts, for servers that need only one. Every
// backend in this module (memstore, gormstore, mongostore) implements it,
// and so must a third party's: the conformance package tests that it does.
//
// # Errors
//
// Failures a caller acts on are sentinel errors, wrapped with context and
// matched with [errors.Is]: [ErrNotFound], [ErrAlreadyExists], [ErrExpired],
// [ErrRevoked], [ErrAlreadyUsed], [ErrInvalid] and [ErrInvalidSecret]. No
// error contains a client secret, code or token. A cancelled context gives an
// error wrapping ctx.Err().
//
// # Credentials are the keys
//
// Codes and tokens are looked up by the credential alone, as go-oauth2 and
// fosite do, so that existing servers plug in. Every record carries its
// ClientID, and the server must compare it with the authenticated client:
// on code exchange (RFC 6749 4.1.3), refresh (RFC 6749 6) and revocation
// (RFC 7009 2.1).
//
// # Secrets at rest
//
// No client secret, code, access token or refresh token is stored in
// plaintext. Codes and tokens are stored and looked up by their SHA-256
// digest (see the secret package); client secrets as a salted slow hash
// (bcrypt by default). So a token read by its access token does not carry
// its refresh token, and the reverse: storage cannot give it back.
//
// # Time
//
// Every store takes an injected clock (func() time.Time) and uses it for
// every expiry decision. A credential is valid at the exact instant it
// expires and expired after it. Instants and lifetimes are kept to the
// millisecond, in UTC ([Truncate]).
//
// # Writing a backend
//
// [NormalizeClient], [NormalizeAuthorizationCode] and [NormalizeToken]
// validate input the same way in every backend; [CheckCode], [CheckAccess]
// and [CheckRefresh] decide whether a stored record is live. Run the
// conformance suite against the new backend.
package storage
