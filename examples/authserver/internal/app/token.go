package app

import (
	"errors"
	"net/http"
	"slices"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// token serves the token endpoint through go-oauth2. Before go-oauth2 runs
// it reads the request as RFC 6749 3.2 wants it (readForm: parameters in
// the body only, each once), answers what go-oauth2 answers wrongly (a
// missing or unknown grant_type), checks the PKCE verifier's format, and
// adds what go-oauth2's refresh grant lacks: it authenticates the client
// and checks that the refresh token was issued to it (RFC 6749 6).
//
// A revoked refresh token goes on to go-oauth2 all the same: the adapter
// reads it, reports the reuse to the store, which revokes its grant, and
// go-oauth2 answers invalid_grant. Its owner cannot be checked (the store
// tells nothing about a revoked token), and need not be: a revoked refresh
// token presented again was stolen or its grant is over, whoever sends it.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		s.writeError(w, err)
		return
	}
	// Every parameter below is read as go-oauth2 reads it: r.FormValue,
	// or the handlers New gives go-oauth2.
	gt := oauth2.GrantType(r.FormValue("grant_type"))
	switch {
	case gt == "":
		s.writeError(w, invalidRequest("grant_type is missing"))
		return
	case !slices.Contains(s.grants, gt):
		s.writeError(w, oerrors.ErrUnsupportedGrantType)
		return
	}
	switch gt {
	case oauth2.AuthorizationCode:
		if v := r.FormValue("code_verifier"); v != "" && !models.ValidCodeVerifier(v) {
			s.writeError(w, &requestError{err: oerrors.ErrInvalidGrant, desc: "malformed code_verifier: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 4.1)"})
			return
		}
	case oauth2.Refreshing:
		if err := s.checkRefresh(r); err != nil {
			s.writeError(w, err)
			return
		}
	}
	if err := s.oauth.HandleTokenRequest(w, r); err != nil {
		s.log.Error("token: writing response", "err", err)
	}
}

// checkRefresh authenticates the client of a refresh request and checks
// that the refresh token, if live, was issued to it.
func (s *Server) checkRefresh(r *http.Request) error {
	c, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if !c.CheckGrantType(models.GrantRefreshToken) {
		return oerrors.ErrUnauthorizedClient
	}
	refresh, err := refreshTokenParam(r)
	if err != nil {
		return err
	}
	t, err := s.store.GetTokenByRefresh(r.Context(), refresh)
	switch {
	case errors.Is(err, storage.ErrRevoked):
		return nil // a reuse: go-oauth2 and the adapter handle it (see token)
	case err == nil && t.ClientID != c.ClientID:
		// Answered as an unknown token: whether another client's token
		// is live is none of this client's business.
		return oerrors.ErrInvalidGrant
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
		return oerrors.ErrInvalidGrant
	}
	return err
}
