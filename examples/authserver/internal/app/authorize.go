package app

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/oauthstore/oauthstore/storage"
)

// authorize is the authorization endpoint. It checks the client and the
// exact redirect URI itself before go-oauth2 does: go-oauth2 would redirect
// its errors to the unchecked redirect URI, which RFC 6749 4.1.2.1 forbids.
// Those two errors get a 400 page; every later error is redirected to the
// checked URI with the request's state. The user is signed in by
// [Config.UserAuthorization], or by the unsafe demo option, or the request
// is refused with access_denied.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		authorizePage(w, http.StatusBadRequest, "malformed request")
		return
	}
	if k := duplicateParam(r.Form); k != "" {
		authorizePage(w, http.StatusBadRequest, "parameter "+k+" sent more than once (RFC 6749 3.1)")
		return
	}
	c, err := s.store.GetClient(r.Context(), r.Form.Get("client_id"))
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.Error("authorize: reading client", "err", err)
			authorizePage(w, http.StatusInternalServerError, "server error")
			return
		}
		authorizePage(w, http.StatusBadRequest, "unknown client_id")
		return
	}
	target := r.Form.Get("redirect_uri")
	switch {
	case target == "" && len(c.RedirectURIs) != 1:
		authorizePage(w, http.StatusBadRequest, "redirect_uri is required: the client has not exactly one registered")
		return
	case target == "":
		target = c.RedirectURIs[0]
	case !c.CheckRedirectURI(target): // the rule of gooauth2.ValidateURI
		authorizePage(w, http.StatusBadRequest, "redirect_uri is not registered for this client (exact match required)")
		return
	}
	state := r.Form.Get("state")

	// From here on, errors are redirected to target (RFC 6749 4.1.2.1).
	switch rt := r.Form.Get("response_type"); {
	case rt == "":
		s.redirectError(w, target, state, invalidRequest("response_type is missing"))
		return
	case rt != string(oauth2.Code):
		s.redirectError(w, target, state, oerrors.ErrUnsupportedResponseType)
		return
	}
	aw := &authorizeWriter{ResponseWriter: w}
	aw.before = func(status int) {
		if status == http.StatusFound {
			s.redirectHeaders(w.Header(), c.ClientID)
		}
	}
	err = s.oauth.HandleAuthorizeRequest(aw, r)
	switch {
	case aw.status == 0 && err == nil:
		// A UserAuthorization that returned no user wrote nothing either.
		s.log.Error("authorize: the user authorization handler returned no user and wrote no response")
		s.redirectError(w, target, state, oerrors.ErrServerError)
	case aw.status == 0:
		// go-oauth2 refused the request without redirecting (it does so
		// for the errors of its request validation).
		s.redirectError(w, target, state, err)
	case aw.status == http.StatusFound && !aw.wrote:
		redirectPage(w, w.Header())
	}
}

// redirectError redirects err to target (RFC 6749 4.1.2.1), with state.
func (s *Server) redirectError(w http.ResponseWriter, target, state string, err error) {
	data, _, _ := s.oauth.GetErrorData(err)
	loc, uerr := s.oauth.GetRedirectURI(&server.AuthorizeRequest{RedirectURI: target, State: state, ResponseType: oauth2.Code}, data)
	if uerr != nil {
		authorizePage(w, http.StatusBadRequest, "redirect_uri does not parse")
		return
	}
	w.Header().Set("Location", loc)
	s.redirectHeaders(w.Header(), "")
	w.WriteHeader(http.StatusFound)
	redirectPage(w, w.Header())
}

// redirectHeaders sets the headers of a redirect from /authorize: the page
// type, no caching (the location may hold a code), and, on an unsafe demo
// server, a notice saying what happened.
func (s *Server) redirectHeaders(h http.Header, clientID string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if s.demoUser == "" {
		return
	}
	notice := "UNSAFE DEMO: the authorization request was refused; the error is in the redirect."
	if !hasError(h.Get("Location")) {
		notice = fmt.Sprintf("UNSAFE DEMO: signed in as demo user %q and approved client %q automatically (-unsafe-auto-approve: no login page, no consent screen).", s.demoUser, clientID)
	}
	h.Set("X-Demo-Notice", notice)
}

// hasError reports whether the redirect location carries an error.
func hasError(loc string) bool {
	u, err := url.Parse(loc)
	return err != nil || u.Query().Has("error")
}

// redirectPage writes the body of a redirect: a link to the location
// without its query, which holds the code.
func redirectPage(w http.ResponseWriter, h http.Header) {
	notice := h.Get("X-Demo-Notice")
	if notice == "" {
		notice = "Authorization answered."
	}
	loc := h.Get("Location")
	fmt.Fprintf(w, "<!doctype html><title>Authorization</title><p>%s</p><p>Redirecting to <a href=\"%s\">%s</a>.</p>\n",
		html.EscapeString(notice), html.EscapeString(loc), html.EscapeString(redirectBase(loc)))
}

// redirectBase shows a redirect location without its query.
func redirectBase(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String() + "?…"
}

func authorizePage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>Authorization error</title><p>Authorization refused: %s</p>\n", html.EscapeString(msg))
}

// authorizeWriter passes go-oauth2's response through, calls before just
// before the status goes out (so that /authorize can add headers to
// go-oauth2's redirect) and records what was written.
type authorizeWriter struct {
	http.ResponseWriter
	before func(status int)
	status int
	wrote  bool
}

func (a *authorizeWriter) WriteHeader(status int) {
	if a.status != 0 {
		return
	}
	a.status = status
	if a.before != nil {
		a.before(status)
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *authorizeWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	a.wrote = true
	return a.ResponseWriter.Write(b)
}
