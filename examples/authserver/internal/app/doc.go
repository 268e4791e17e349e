// Package app is the authorization server of examples/authserver:
// go-oauth2's manager and server on an oauthstore [storage.Storage] through
// the [gooauth2] adapter, with RFC 7009 revocation, RFC 7662 introspection
// and a protected /userinfo. It is internal to the example: copy it, do not
// import it.
//
// # Building one
//
// [New] takes a [Config] whose Store is any backend; give the store
// [Clock.Now] as its clock to move time in tests. [Server] is an
// [http.Handler]; [Server.CreateClient] (or [CreateClient] on a bare
// store) registers a client and returns its one-time secret.
//
// # Signing users in
//
// The example has no login page. [Config.UserAuthorization] is where a
// server plugs its own in; without it every authorization request is
// refused with access_denied. [Config.UnsafeAutoApproveAs] turns the server
// into an unsafe demo instead (the command's -unsafe-auto-approve): it
// signs that user in and approves every valid request, says so in an
// X-Demo-Notice header and on the page, and offers the password grant with
// the hard-coded [DemoUsername] and [DemoPassword] to confidential clients.
// Without it there is no password grant.
//
// # Introspection
//
// Only confidential clients may call /introspect. A client registered as a
// resource server ([ClientOptions.ResourceServer], recorded in the store as
// [ResourceServerScope] in its scope) may introspect any token; any other
// client only its own, and is told {"active": false} for the others
// (RFC 7662 2.1, 4).
//
// # What it adds to go-oauth2
//
//   - /token, /revoke and /introspect take their parameters from an
//     application/x-www-form-urlencoded body only, each once (RFC 6749
//     3.2): a request with parameters in the URL query is invalid_request.
//     go-oauth2 reads the query too, so a check made on the body alone
//     could be bypassed by a query parameter. Every parameter the server
//     checks is read the way go-oauth2 reads it.
//   - /authorize checks the client and the exact redirect URI before
//     go-oauth2 runs, so that errors are never redirected to an
//     unregistered URI; later errors are redirected with the state.
//   - Refresh requests are client-authenticated and the refresh token must
//     belong to the client; go-oauth2 v4.5.4 checks neither.
//   - Error responses have the statuses of RFC 6749 5.2 (400, and 401 with
//     a Basic challenge for invalid_client), through
//     [gooauth2.ResponseErrorHandler]; a missing grant_type is
//     invalid_request and an unknown one unsupported_grant_type.
//   - PKCE is required, S256 only; a code_verifier that is not 43 to 128
//     characters of [A-Za-z0-9-._~] (RFC 7636 4.1) is invalid_grant.
//   - /userinfo takes the access token from the Authorization header only.
//   - Codes and tokens are 32 random bytes (43 base64url characters).
//
// # Grants: rotation, reuse detection, code replay
//
// A code and every token issued from it, or refreshed from those, form a
// grant. A refresh replaces the pair atomically (the store's RotateToken):
// of concurrent refreshes with one refresh token exactly one succeeds. A
// rotated or revoked refresh token presented again is a reuse: the store
// revokes every token of its grant, so a client whose refresh token was
// stolen loses its tokens as soon as either party replays an old one, and
// must be authorized again. A replayed code likewise revokes the tokens
// issued from it. Token responses carry the standard fields only, never a
// grant ID.
package app
