// Package storage is the contract between an OAuth 2.0 authorization server
// and the stores that persist its clients, authorization codes and tokens.
//
// [Storage] is the whole contract; [ClientStore], [AuthorizationCodeStore]
// and [TokenStore] are its parts, for servers that need only one. Every
// backend in this module (memstore, gormstore, mongostore, redisstore) implements it,
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
// # Managing clients
//
// [ClientManager], part of [Storage], changes a registration
// ([ClientManager.UpdateClient]), rotates a client secret with an overlap in
// which both secrets work ([ClientManager.RotateClientSecret]), makes a
// client public, lists clients by keyset pagination in bytewise client ID
// order with an owner filter ([ClientManager.ListClients]), and revokes
// everything a client holds ([ClientManager.RevokeClientTokens]).
// [StatsReporter] is an optional interface that counts records by state.
//
// # Limits
//
// Every string a store accepts is valid UTF-8 without NUL, within the
// sizes of [MaxIDLen] and its siblings, the same on every backend; above
// them, [ErrInvalid] and nothing written.
//
// # Grants
//
// A grant is one authorization: the code the user approved, the tokens
// issued from it and every token refreshed from those. Codes and tokens
// carry its GrantID ([models.AuthorizationCode.GrantID],
// [models.Token.GrantID]); a code or token created without one gets a new
// random one. The server gives the tokens it issues from a code the code's
// GrantID; [TokenStore.RotateToken] gives a refreshed pair the GrantID of
// the pair it replaces.
//
// The grant is what a leak revokes. [TokenStore.RotateToken] rotates a
// refresh token atomically (exactly one of concurrent refreshes wins) and
// detects reuse: a refresh token used after it was rotated or revoked
// revokes every token of its grant, the legitimate client's newest pair
// included (RFC 9700 4.14.2). A replayed code does the same
// ([AuthorizationCodeStore.ConsumeAuthorizationCode], RFC 6749 4.1.2).
// [Storage.RevokeGrant] revokes a grant on demand, for a user who signs out
// everywhere or an administrator. Revoked tokens are kept until they
// expire, so reuse is recognised for as long as the refresh token could
// have been used.
//
// # Time
//
// Every store takes an injected clock (func() time.Time) and uses it for
// every expiry decision. A credential is valid at the exact instant it
// expires and expired after it. Instants and lifetimes are kept to the
// millisecond, in UTC.
//
// # Writing a backend
//
// Package backendkit holds the rules every backend applies the same way:
// validation of input, judging stored records, the expiry rule on
// integers, grant IDs. Run the conformance suite against the new backend.
package storage
