package app

import (
	"errors"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/oauthstore/oauthstore/storage"
)

// introspect is the RFC 7662 introspection endpoint. Only confidential
// clients may call it. A client marked as a resource server
// ([IsResourceServer]) may introspect any token; any other client only the
// tokens issued to it, and for another client's token it is told
// {"active": false}, as for a revoked, expired or unknown token (RFC 7662
// 2.2, 4: the server must not tell a client about tokens it may not
// introspect).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r, true)
	if !ok {
		return
	}
	inactive := map[string]any{"active": false}
	t, isRefresh, err := s.lookup(r.Context(), token, r.FormValue("token_type_hint"))
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrExpired):
		writeJSON(w, http.StatusOK, inactive)
		return
	case err != nil:
		s.log.Error("introspect: lookup", "client", c.ClientID, "err", err)
		s.writeError(w, oerrors.ErrServerError)
		return
	case t.ClientID != c.ClientID && !IsResourceServer(c):
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	resp := map[string]any{
		"active":    true,
		"client_id": t.ClientID,
		"iat":       t.IssuedAt.Unix(),
		"exp":       t.ExpiresAt().Unix(),
	}
	if isRefresh {
		// RFC 7662 2.2: token_type is the type of RFC 6749 5.1 (Bearer),
		// which a refresh token has not: it is left out.
		resp["exp"] = t.RefreshTokenExpiresAt().Unix()
	} else {
		resp["token_type"] = t.Type()
	}
	if t.Scope != "" {
		resp["scope"] = t.Scope
	}
	if t.UserID != "" {
		resp["sub"] = t.UserID
		if name := s.demoName(t.UserID); name != "" {
			resp["username"] = name
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
