// Package app is the demo authorization server of examples/authserver:
// go-oauth2's manager and server on an oauthstore [storage.Storage] through
// the [gooauth2] adapter, with RFC 7009 revocation, RFC 7662 introspection
// and a protected /userinfo.
//
// # Building one
//
// [New] takes a [Config] whose Store is any backend; give the store
// [Clock.Now] as its clock to move time in tests. [Server] is an
// [http.Handler]; [Server.CreateClient] (or [CreateClient] on a bare
// store) registers a client and returns its one-time secret.
//
// # Demo only
//
// There is no login page: /authorize signs in [DemoUserID] and approves
// every valid request, and says so in an X-Demo-Notice header and on the
// page. The password grant accepts only [DemoUsername] and [DemoPassword].
//
// # What it adds to go-oauth2
//
//   - /authorize checks the client and the exact redirect URI before
//     go-oauth2 runs, so that errors are never redirected to an
//     unregistered URI.
//   - Refresh requests are client-authenticated and the refresh token must
//     belong to the client; go-oauth2 v4.5.4 checks neither.
//   - Codes and tokens are 32 random bytes (43 base64url characters).
//   - Refresh tokens rotate; PKCE is required.
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
