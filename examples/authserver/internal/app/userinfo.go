package app

import (
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// userinfo is a protected resource: it answers for a valid bearer token in
// the Authorization header (RFC 6750 2.1), checked by go-oauth2's manager
// through the adapter. A request without one gets a bare challenge, an
// invalid, expired or revoked token an invalid_token one (RFC 6750 3).
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	if _, ok := bearerToken(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ti, err := s.oauth.ValidationBearerToken(r)
	if err != nil {
		switch err {
		case oerrors.ErrInvalidAccessToken, oerrors.ErrExpiredAccessToken:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`", error="invalid_token", error_description="the access token is invalid, expired or revoked"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		default:
			s.log.Error("userinfo", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		}
		return
	}
	resp := map[string]any{"client_id": ti.GetClientID(), "scope": ti.GetScope()}
	if uid := ti.GetUserID(); uid != "" {
		resp["sub"] = uid
		if name := s.demoName(uid); name != "" {
			resp["preferred_username"] = name
			resp["name"] = "Demo User"
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
