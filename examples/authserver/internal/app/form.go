package app

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// maxFormBytes bounds the body of a request to /token, /revoke or
// /introspect.
const maxFormBytes = 64 << 10

// readForm parses the body of a request to /token, /revoke or /introspect
// and refuses what RFC 6749 3.2 (and RFC 7009 2.1, RFC 7662 2.1, which
// follow it) does not allow: parameters in the URL query, a body that is
// not application/x-www-form-urlencoded, and a parameter sent more than
// once. Then r.Form holds the body's parameters and nothing else, so
// r.FormValue, which go-oauth2 reads, and r.PostForm agree: a check made
// on a parameter here sees the value go-oauth2 acts on.
func readForm(w http.ResponseWriter, r *http.Request) error {
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return invalidRequest("parameters must be sent in the request body, not in the URL query (RFC 6749 3.2)")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return invalidRequest("the request body must be application/x-www-form-urlencoded (RFC 6749 3.2)")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return invalidRequest("malformed request body")
	}
	if k := duplicateParam(r.PostForm); k != "" {
		return invalidRequest("parameter %s sent more than once (RFC 6749 3.2)", k)
	}
	return nil
}

// duplicateParam returns the first parameter of form sent more than once,
// or "".
func duplicateParam(form url.Values) string {
	for k, v := range form {
		if len(v) > 1 {
			return k
		}
	}
	return ""
}

// clientCredentials is go-oauth2's ClientInfoHandler, and the server's own
// reader of client credentials: the client's ID and secret from HTTP Basic
// authentication (RFC 6749 2.3.1, form-encoded) or from the client_id and
// client_secret body parameters (client_secret_post); a public client sends
// only client_id. A request that uses both methods is invalid_request.
func clientCredentials(r *http.Request) (string, string, error) {
	if u, p, ok := r.BasicAuth(); ok {
		if r.Form.Get("client_secret") != "" {
			return "", "", invalidRequest("client authenticated with HTTP Basic and client_secret both (RFC 6749 2.3)")
		}
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", oerrors.ErrInvalidClient
		}
		if body := r.Form.Get("client_id"); body != "" && body != id {
			return "", "", invalidRequest("client_id differs from the HTTP Basic user name")
		}
		return id, secret, nil
	}
	if strings.TrimSpace(r.Header.Get("Authorization")) != "" {
		// Some other scheme: the client tried to authenticate and failed.
		return "", "", oerrors.ErrInvalidClient
	}
	id := r.Form.Get("client_id")
	if id == "" {
		return "", "", oerrors.ErrInvalidClient
	}
	return id, r.Form.Get("client_secret"), nil
}

// refreshTokenParam is go-oauth2's RefreshTokenResolveHandler, and the
// server's own reader of the refresh_token parameter.
func refreshTokenParam(r *http.Request) (string, error) {
	rt := r.Form.Get("refresh_token")
	if rt == "" {
		return "", invalidRequest("refresh_token is missing")
	}
	return rt, nil
}

// bearerToken is go-oauth2's AccessTokenResolveHandler: the access token
// of an Authorization: Bearer header (RFC 6750 2.1), the only way /userinfo
// accepts one. Tokens in the URL query (RFC 6750 2.3) end up in logs and
// browser histories; go-oauth2's default handler reads them.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
