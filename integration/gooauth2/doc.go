// Package gooauth2 plugs an oauthstore [storage.Storage] into
// github.com/go-oauth2/oauth2/v4 (v4.5.4), the most used Go OAuth 2.0
// server library: [NewTokenStore] returns its [oauth2.TokenStore] (a
// [*TokenStore]) and [NewClientStore] its [oauth2.ClientStore] (a
// [*ClientStore]).
//
// # Plugging it in
//
//	m := manage.NewDefaultManager()
//	m.MapTokenStorage(gooauth2.NewTokenStore(store))
//	m.MapClientStorage(gooauth2.NewClientStore(store))
//	m.SetValidateURIHandler(gooauth2.ValidateURI) // exact redirect URIs
//	m.SetRefreshTokenCfg(manage.DefaultRefreshTokenCfg) // rotate refresh tokens
//	srv := server.NewServer(server.NewConfig(), m)
//	srv.ResponseErrorHandler = gooauth2.ResponseErrorHandler("my server") // RFC 6749 5.2 statuses
//
// Clients are registered with the store's
// [storage.ClientStore.CreateClient]; the adapter only reads them.
// examples/authserver in this repository is a complete server built this
// way, with revocation, introspection and tests on every backend.
//
// # What is stored
//
// A go-oauth2 [oauth2.TokenInfo] with a code becomes a
// [models.AuthorizationCode] (client, user, redirect URI, scope, PKCE
// challenge and method, create time and lifetime); one with an access token
// becomes a [models.Token] (the access token, the optional refresh token,
// client, user, scope, create time and both lifetimes). go-oauth2 gives the
// refresh token its own create time; the store keeps one IssuedAt (the
// access create time) and a refresh lifetime counted from it, so the
// refresh token's expiry instant is kept exactly. Not stored: the access
// lifetime an authorization request asked for (go-oauth2's
// AccessTokenExpHandler) and [oauth2.ExtendableTokenInfo] extensions; the
// grant's configured lifetimes apply.
//
// Every code and token belongs to a grant (its GrantID, see [models.Token]):
// a code gets a new one, the tokens issued from the code share it, and so
// do the pairs refreshed from them. go-oauth2's manager hands a store
// nothing that links a token to its code except the code info's extension,
// which it copies onto the new token's info; [TokenStore.GetByCode] puts
// the code's GrantID there under [GrantIDKey], and [TokenStore.Create]
// takes it out again (it deletes the key from the info), so it never
// reaches the token response, even with an ExtensionFieldsHandler that
// copies the whole extension. A manager ExtractExtensionHandler must add
// to the extension, not replace it (a token would then start a grant of
// its own), and must never set [GrantIDKey] itself, least of all from
// request parameters.
//
// Stores keep only digests of codes and tokens, so a TokenInfo read by one
// credential carries only that one: [TokenStore.GetByAccess] returns no
// refresh token, [TokenStore.GetByRefresh] no access token.
//
// # Authorization codes are single use, even under races
//
// go-oauth2's manager exchanges a code by get, check, then remove: two
// concurrent exchanges of one code could both get it. [TokenStore.GetByCode]
// therefore consumes the code atomically with
// [storage.AuthorizationCodeStore.ConsumeAuthorizationCode]: exactly one
// exchange gets it, every other one gets [oerrors.ErrInvalidAuthorizeCode]
// (invalid_grant). [TokenStore.RemoveByCode], which the manager calls next,
// then has nothing left to do. A consequence: a code whose exchange fails
// after the lookup (wrong client, redirect URI or PKCE verifier) is spent,
// so an attacker who guessed wrong cannot try again, and neither can the
// client.
//
// A used code presented again is a replay (RFC 6749 4.1.2): the store's
// ConsumeAuthorizationCode revokes every token of the code's grant, those
// issued from the code and those refreshed from them, before
// [TokenStore.GetByCode] answers invalid_grant. Among concurrent exchanges
// of one code, the losers are replays too, but a loser that reaches the
// store before the winner has stored its token revokes nothing: which of
// them come late enough to revoke the winner's token is a matter of timing.
//
// # Errors the manager understands
//
// go-oauth2 compares errors with ==, so the adapter returns its sentinels
// unwrapped: an unknown, used or expired code is
// [oerrors.ErrInvalidAuthorizeCode]; an unknown or revoked access token
// [oerrors.ErrInvalidAccessToken], an expired one
// [oerrors.ErrExpiredAccessToken]; an unknown or revoked refresh token
// [oerrors.ErrInvalidRefreshToken], an expired one
// [oerrors.ErrExpiredRefreshToken]; an unknown client
// [oerrors.ErrInvalidClient]; a redirect URI that is not registered
// ([ValidateURI]) [oerrors.ErrInvalidGrant]; a code whose PKCE challenge is
// malformed for its method [oerrors.ErrInvalidRequest]. The server answers
// them with invalid_grant, invalid_client, invalid_request or
// invalid_token. Any other error (a database failure, a cancelled context)
// is passed on, and go-oauth2 answers server_error.
//
// # Error statuses
//
// go-oauth2 v4.5.4 answers invalid_grant, unauthorized_client and
// unsupported_grant_type with 401 and no WWW-Authenticate header; RFC 6749
// 5.2 wants 400, and RFC 7235 3.1 a challenge on every 401. The adapter
// cannot see responses, but [ResponseErrorHandler] gives a go-oauth2
// server those statuses: 400 for every error but invalid_client, which is
// 401 with a Basic challenge whether the client authenticated with HTTP
// Basic or in the body (Basic is the one scheme it can answer a challenge
// with). Assign it to the server's ResponseErrorHandler.
//
// # Client secrets
//
// The store keeps only a slow hash of a client secret, so
// [Client.GetSecret] is always "". [Client] implements go-oauth2's
// [oauth2.ClientPasswordVerifier]: the manager calls
// [Client.VerifyPassword], which asks the store
// ([storage.ClientStore.AuthenticateClient]) to check the secret against the
// hash. A public client (no secret) passes only with an empty secret.
// go-oauth2 v4.5.4 calls VerifyPassword without a context, and has no
// context-taking variant of the interface; a [Client] keeps none either (a
// request's context kept in a struct outlives its request), so the check
// runs on a background context bounded by [VerifyPasswordTimeout].
//
// # Redirect URIs
//
// go-oauth2's default ValidateURIHandler accepts any redirect URI whose host
// ends with the client's domain. [Client.GetDomain] carries the registered
// redirect URIs, and [ValidateURI] accepts exactly those, as
// [models.Client.CheckRedirectURI] does. [ValidateURILoopback] also accepts
// any port on an http redirect URI registered on a loopback IP address
// (RFC 8252 7.3, for native apps); use it instead when the server has such
// clients. GetDomain does not join the URIs with a separator that a URI
// could contain: with one registered URI it is that URI (go-oauth2 redirects
// there when a request names none); with several it is an encoded list,
// which is no URL, so that go-oauth2 cannot redirect to it and a request
// must name its redirect URI.
//
// A redirect URI that is not registered is [oerrors.ErrInvalidGrant]: at
// the token endpoint that is the answer of RFC 6749 5.2. At the
// authorization endpoint go-oauth2's server redirects its errors to the
// requested redirect URI, even when that URI is the one refused: check the
// client and redirect URI before calling HandleAuthorizeRequest, as
// examples/authserver does, and answer a bad one with an error page.
//
// # Refresh: rotation and reuse detection
//
// The manager's refresh reads the token by its refresh token
// ([TokenStore.GetByRefresh]), mutates that TokenInfo (new access token,
// maybe new refresh token, new times), calls Create with it, then
// RemoveByAccess(old access) and RemoveByRefresh(old refresh).
//
//   - With refresh token rotation (IsGenerateRefresh, as in go-oauth2's
//     DefaultRefreshTokenCfg, and recommended), [TokenStore.Create]
//     recognises the TokenInfo [TokenStore.GetByRefresh] returned and
//     replaces the old pair with the new one through
//     [storage.TokenStore.RotateToken], in the same grant, atomically: the
//     old access and refresh tokens stop working whatever IsRemoveAccess and
//     IsRemoveRefreshing say, a refresh token works once, and of concurrent
//     refreshes with one refresh token exactly one succeeds.
//   - Reuse detection (RFC 9700 4.14.2): a refresh token that was rotated
//     (or revoked) and is presented again was stolen, or its grant is
//     over. The store then revokes every token of its grant, the pair the
//     legitimate client holds included, and the server answers
//     invalid_grant. That happens whether the replay comes after the
//     rotation ([TokenStore.GetByRefresh] reads a revoked refresh token and
//     reports the reuse with RotateToken) or races it (Create's RotateToken
//     loses, which is a reuse too): the losers of concurrent refreshes
//     revoke the winner's new pair. A store option such as
//     memstore.WithReuseInterval tolerates a replay shortly after a rotation
//     (a client that retried a refresh whose answer it lost) without
//     revoking the grant.
//   - Errors: a refresh token revoked or unknown is
//     [oerrors.ErrInvalidRefreshToken], expired
//     [oerrors.ErrExpiredRefreshToken], both answered with invalid_grant.
//   - The old access token is not known (only its digest is stored), so
//     the manager passes "" to [TokenStore.RemoveByAccess], which does
//     nothing for "". RemoveByRefresh of the rotated refresh token revokes
//     an already revoked pair: nothing changes, and it is not a reuse.
//   - Without rotation the manager passes the old refresh token back to
//     Create; storing it again would collide with the stored one
//     ([storage.ErrAlreadyExists]). Create then stores the new access token
//     alone, in the old pair's grant, and the old refresh token, still
//     stored with its pair, remains the grant's handle with its original
//     expiry (IsResetRefreshTime cannot extend it). The old access token
//     lives until it expires, revoking the refresh token
//     ([TokenStore.RemoveByRefresh], RFC 7009) does not revoke the access
//     tokens issued from it (RevokeGrant on the store does), and there is
//     no reuse to detect: prefer rotation.
//
// # What go-oauth2 leaves to the server
//
// go-oauth2 v4.5.4's refresh grant neither authenticates the client nor
// checks that the refresh token was issued to it (RFC 6749 6), and it
// accepts any scope on refresh unless a RefreshingScopeHandler says
// otherwise. The adapter cannot see the request; the server must check
// both, as examples/authserver does with the store's
// [storage.TokenStore.GetTokenByRefresh] and
// [storage.ClientStore.AuthenticateClient]. Such a check must read the
// request's parameters exactly as go-oauth2 does: go-oauth2 reads them with
// r.FormValue, the URL query included, so a check of the body alone is
// bypassed by parameters in the query. examples/authserver refuses token
// requests with URL query parameters (RFC 6749 3.2 puts them in the body)
// and reads the rest the way go-oauth2 does. Such a server sees a revoked
// refresh token first: it should let the request go on to go-oauth2 (and
// so to [TokenStore.GetByRefresh], which reports the reuse) rather than
// answer invalid_grant itself, as examples/authserver does. A revoked
// refresh token is a reuse whoever presents it: the grant it belongs to is
// revoked even when another client sends it.
//
// # Lifetimes and clocks
//
// go-oauth2 reads an expires-in of 0 as "never"; stores need a positive
// lifetime, so 0 is stored as [NoExpiry] (about a hundred years) and read
// back as 0. A refresh token that never expires stays so across refreshes:
// its lifetime is [NoExpiry] from the new pair's issue time, not what is
// left of the old one's.
//
// The store judges expiry with its own, injectable clock; go-oauth2's
// manager stamps create times with time.Now and checks them against
// time.Now again after the store has answered. A credential is refused if
// either says it has expired. To test expiry with an injected clock, start
// that clock at the wall time and move it forward: the store then refuses
// what the manager alone would still accept, so the refusal observed is the
// store's.
package gooauth2
