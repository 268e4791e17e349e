package app

import (
	"context"
	"errors"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// tokenRequest reads what revocation (RFC 7009) and introspection
// (RFC 7662) requests share: the body (readForm), the authenticated client
// (a confidential one if confidentialOnly) and the token parameter. On
// failure it writes the error response and ok is false.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, confidentialOnly bool) (c *models.Client, token string, ok bool) {
	if err := readForm(w, r); err != nil {
		s.writeError(w, err)
		return nil, "", false
	}
	c, err := s.authenticate(r)
	if err == nil && confidentialOnly && c.IsPublic() {
		err = oerrors.ErrInvalidClient
	}
	if err != nil {
		s.writeError(w, err)
		return nil, "", false
	}
	token = r.FormValue("token")
	if token == "" {
		s.writeError(w, invalidRequest("token is missing"))
		return nil, "", false
	}
	return c, token, true
}

// lookup finds the live token that token is the access or refresh token
// of, trying the hinted kind first. isRefresh reports which it was.
func (s *Server) lookup(ctx context.Context, token, hint string) (t *models.Token, isRefresh bool, err error) {
	byAccess := func() (*models.Token, bool, error) {
		t, err := s.store.GetTokenByAccess(ctx, token)
		return t, false, err
	}
	byRefresh := func() (*models.Token, bool, error) {
		t, err := s.store.GetTokenByRefresh(ctx, token)
		return t, true, err
	}
	first, second := byAccess, byRefresh
	if hint == "refresh_token" {
		first, second = byRefresh, byAccess
	}
	t, isRefresh, err = first()
	if errors.Is(err, storage.ErrNotFound) {
		t, isRefresh, err = second()
	}
	return t, isRefresh, err
}

// revoke is the RFC 7009 revocation endpoint. The client authenticates; a
// token it was issued is revoked with its pair; a token of another client,
// or an unknown, expired or revoked one, is left alone, and the answer is
// 200 all the same (RFC 7009 2.2). An unknown token_type_hint is ignored.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r, false)
	if !ok {
		return
	}
	t, _, err := s.lookup(r.Context(), token, r.FormValue("token_type_hint"))
	switch {
	case err == nil && t.ClientID == c.ClientID:
		if err := s.store.RevokeToken(r.Context(), token); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Error("revoke", "client", c.ClientID, "err", err)
			s.writeError(w, oerrors.ErrTemporarilyUnavailable)
			return
		}
	case err == nil:
		s.log.Warn("revoke: token of another client left alone", "client", c.ClientID, "owner", t.ClientID)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrExpired):
		// Nothing usable to revoke.
	default:
		s.log.Error("revoke: lookup", "client", c.ClientID, "err", err)
		s.writeError(w, oerrors.ErrTemporarilyUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
