package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// ResourceServerScope marks a client as a resource server, which may
// introspect any token (RFC 7662 2.1, 4): it is a reserved value in the
// client's registered scope, recorded in the store with the client
// ([ClientOptions.ResourceServer] adds it). It is a permission at this
// server, never granted in a token: a request for it is invalid_scope.
// Other clients may introspect only the tokens issued to them.
const ResourceServerScope = "urn:oauthstore:example:resource-server"

// IsResourceServer reports whether c is marked as a resource server
// ([ResourceServerScope]).
func IsResourceServer(c *models.Client) bool {
	return slices.Contains(strings.Fields(c.Scope), ResourceServerScope)
}

// ClientOptions describes a client for [Server.CreateClient].
type ClientOptions struct {
	// RedirectURIs are the exact redirect URIs; at least one is needed for
	// the authorization code grant.
	RedirectURIs []string
	// Public makes a client without a secret (PKCE only; it cannot use the
	// client_credentials or password grants, revoke needs only its ID,
	// introspection is refused to it).
	Public bool
	// Scope is the space-separated scope the client may get; empty means
	// [DefaultScope].
	Scope string
	// ResourceServer lets the client introspect every token, not only its
	// own: for a resource server that checks the tokens presented to it.
	// It adds [ResourceServerScope] to the client's registered scope. A
	// public client cannot be one.
	ResourceServer bool
}

// CreateClient registers a client with a random ID and, unless it is
// public, a random secret, and returns both. The secret is returned only
// here: the store keeps a hash of it.
func (s *Server) CreateClient(ctx context.Context, o ClientOptions) (id, secret string, err error) {
	return CreateClient(ctx, s.store, o)
}

// CreateClient is [Server.CreateClient] on a store without a server.
func CreateClient(ctx context.Context, st storage.Storage, o ClientOptions) (id, secret string, err error) {
	if o.Public && o.ResourceServer {
		return "", "", errors.New("app: a resource server must be a confidential client (introspection authenticates it)")
	}
	id = "client-" + randomString(9)
	if !o.Public {
		secret = randomString(32)
	}
	scope := o.Scope
	if scope == "" {
		scope = DefaultScope
	}
	if o.ResourceServer && !slices.Contains(strings.Fields(scope), ResourceServerScope) {
		scope += " " + ResourceServerScope
	}
	c := &models.Client{
		ClientID:      id,
		ClientSecret:  secret,
		GrantTypes:    []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken},
		ResponseTypes: []models.ResponseType{models.ResponseTypeCode},
		RedirectURIs:  o.RedirectURIs,
		Scope:         scope,
	}
	if !o.Public {
		// The password grant is offered only by an unsafe demo server
		// (Config.UnsafeAutoApproveAs), and never to public clients.
		c.GrantTypes = append(c.GrantTypes, models.GrantClientCredentials, models.GrantPassword)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// authenticate authenticates the client of a request to /token, /revoke
// or /introspect, whose body readForm has read: a confidential client by
// its secret, a public one by its ID alone (and no secret).
func (s *Server) authenticate(r *http.Request) (*models.Client, error) {
	id, secret, err := clientCredentials(r)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetClient(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if c.IsPublic() {
		if secret != "" {
			return nil, oerrors.ErrInvalidClient
		}
		return c, nil
	}
	c, err = s.store.AuthenticateClient(r.Context(), id, secret)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidSecret) {
		return nil, oerrors.ErrInvalidClient
	}
	return c, err
}

// clientAuthorized is go-oauth2's ClientAuthorizedHandler: the client may
// use the grant type if it is registered with it; never the implicit
// grant, and never the password grant if it is public.
func (s *Server) clientAuthorized(clientID string, grant oauth2.GrantType) (bool, error) {
	// go-oauth2 hands this handler no context.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.store.GetClient(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, oerrors.ErrInvalidClient
	}
	if err != nil {
		return false, err
	}
	switch grant {
	case oauth2.Implicit:
		return false, nil
	case oauth2.PasswordCredentials:
		if c.IsPublic() {
			return false, nil
		}
	}
	return c.CheckGrantType(models.GrantType(grant)), nil
}

// clientScope is go-oauth2's ClientScopeHandler: the scope requested must
// be within the client's, and never name [ResourceServerScope].
func (s *Server) clientScope(tgr *oauth2.TokenGenerateRequest) (bool, error) {
	if slices.Contains(strings.Fields(tgr.Scope), ResourceServerScope) {
		return false, nil
	}
	ctx := context.Background()
	if tgr.Request != nil {
		ctx = tgr.Request.Context()
	}
	c, err := s.store.GetClient(ctx, tgr.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, oerrors.ErrInvalidClient
	}
	if err != nil {
		return false, err
	}
	return c.CheckScope(tgr.Scope), nil
}

// demoPassword is the password grant's PasswordAuthorizationHandler of an
// unsafe demo server: the hard-coded demo credentials sign in the demo
// user.
func (s *Server) demoPassword(_ context.Context, _, username, password string) (string, error) {
	u := subtle.ConstantTimeCompare([]byte(username), []byte(DemoUsername))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(DemoPassword))
	if u&p == 1 {
		return s.demoUser, nil
	}
	return "", oerrors.ErrInvalidGrant
}
