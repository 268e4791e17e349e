package gooauth2

import (
	"net/http"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// ResponseErrorHandler returns a go-oauth2 ResponseErrorHandler that gives
// the server's error responses the HTTP status codes of RFC 6749 5.2.
// Assign it to the server's field:
//
//	srv.ResponseErrorHandler = gooauth2.ResponseErrorHandler("my server")
//
// go-oauth2 v4.5.4 answers invalid_grant, unauthorized_client,
// unsupported_grant_type (and unsupported_response_type) with 401
// Unauthorized and no WWW-Authenticate header. With this handler they are
// 400 Bad Request, as are invalid_request and invalid_scope; invalid_client
// stays 401 and carries the challenge `Basic realm="realm"` (RFC 7235 3.1:
// every 401 carries WWW-Authenticate). go-oauth2's server accepts client
// credentials in HTTP Basic authentication or in the request body
// (client_secret_post); the challenge names Basic in both cases, the one
// HTTP authentication scheme a client can answer it with (RFC 6749 5.2
// allows a 401 with a challenge for any failed client authentication). Any
// other 401 (from an InternalErrorHandler) gets the same challenge unless it
// has one.
//
// The handler changes statuses and headers only; the error codes and
// descriptions stay go-oauth2's. At the authorization endpoint go-oauth2
// redirects its errors, so the status there does not reach the client.
func ResponseErrorHandler(realm string) func(re *oerrors.Response) {
	challenge := `Basic realm="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm) + `"`
	return func(re *oerrors.Response) {
		if re == nil {
			return
		}
		if re.Error != nil {
			switch re.Error.Error() {
			case "invalid_client":
				re.StatusCode = http.StatusUnauthorized
			case "invalid_request", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
				"invalid_scope", "unsupported_response_type":
				re.StatusCode = http.StatusBadRequest
			}
		}
		if re.StatusCode == http.StatusUnauthorized && re.Header.Get("WWW-Authenticate") == "" {
			re.SetHeader("WWW-Authenticate", challenge)
		}
	}
}
