package gooauth2

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// VerifyPasswordTimeout bounds the store call [Client.VerifyPassword] makes
// to check a client secret. go-oauth2 calls VerifyPassword without a
// context (its [oauth2.ClientPasswordVerifier] has no context-taking
// variant in v4.5.4), so the check runs on a background context with this
// timeout: it is not cancelled when the client's request is, but it cannot
// hang either.
const VerifyPasswordTimeout = 10 * time.Second

// ClientStore is the [oauth2.ClientStore] [NewClientStore] returns.
type ClientStore struct {
	s storage.Storage
}

var _ oauth2.ClientStore = (*ClientStore)(nil)

// NewClientStore returns a go-oauth2 client store reading clients from s.
// Pass it to the manager's MapClientStorage. Clients are created with
// [storage.ClientStore.CreateClient] on s.
func NewClientStore(s storage.Storage) *ClientStore {
	return &ClientStore{s: s}
}

// GetByID implements [oauth2.ClientStore]. It returns a [*Client]; an
// unknown client is [oerrors.ErrInvalidClient].
func (cs *ClientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := cs.s.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	return &Client{s: cs.s, c: c}, nil
}

// Client is the [oauth2.ClientInfo] of a stored [models.Client]. It
// implements [oauth2.ClientPasswordVerifier], so go-oauth2's manager checks
// client secrets with [Client.VerifyPassword] (against the stored hash)
// instead of comparing them with [Client.GetSecret], which is always empty.
type Client struct {
	s storage.Storage
	c *models.Client
}

var (
	_ oauth2.ClientInfo             = (*Client)(nil)
	_ oauth2.ClientPasswordVerifier = (*Client)(nil)
)

// Model returns the stored client (without its secret).
func (c *Client) Model() *models.Client { return c.c }

// GetID implements [oauth2.ClientInfo].
func (c *Client) GetID() string { return c.c.ClientID }

// GetDomain implements [oauth2.ClientInfo]: it is the first argument
// [ValidateURI] and [ValidateURILoopback] receive, the client's registered
// redirect URIs. With exactly one, it is that URI, which go-oauth2's server
// redirects to when an authorization request names none. Otherwise it is
// an encoded list that is not a URL (it starts with a control character),
// so that go-oauth2 cannot redirect to it: a client with several redirect
// URIs must name one. The list is not joined with a separator, so no
// registered URI is ever split into two, whatever it contains.
func (c *Client) GetDomain() string { return encodeRedirectURIs(c.c.RedirectURIs) }

// GetSecret implements [oauth2.ClientInfo]. It is always "": the store keeps
// only a hash of the secret; see [Client.VerifyPassword].
func (c *Client) GetSecret() string { return "" }

// IsPublic implements [oauth2.ClientInfo]: the client has no secret.
func (c *Client) IsPublic() bool { return c.c.IsPublic() }

// GetUserID implements [oauth2.ClientInfo].
func (c *Client) GetUserID() string { return c.c.UserID }

// VerifyPassword implements [oauth2.ClientPasswordVerifier]. A public
// client passes with an empty secret only; a confidential client passes
// when [storage.ClientStore.AuthenticateClient] accepts the secret, that is
// when it matches the stored hash. It is never compared in plaintext.
//
// go-oauth2 hands VerifyPassword no context, so the store is asked on a
// background context bounded by [VerifyPasswordTimeout]; a store failure
// or a timeout refuses the secret.
func (c *Client) VerifyPassword(secret string) bool {
	if c.c.IsPublic() {
		return secret == ""
	}
	if secret == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), VerifyPasswordTimeout)
	defer cancel()
	_, err := c.s.AuthenticateClient(ctx, c.c.ClientID, secret)
	return err == nil
}

// redirectListPrefix starts the [Client.GetDomain] of a client whose
// redirect URIs are not exactly one URI: a control character, which no
// registered redirect URI contains and which makes the string unusable as
// a URL, then a JSON array of the URIs.
const redirectListPrefix = "\x00oauthstore-redirect-uris:"

// encodeRedirectURIs is [Client.GetDomain]: the URI itself if there is
// exactly one (and it cannot be mistaken for a list), otherwise
// redirectListPrefix and the JSON array of the URIs. Unlike a separator,
// this never splits a URI, whatever it contains.
func encodeRedirectURIs(uris []string) string {
	if len(uris) == 1 && uris[0] != "" && !strings.HasPrefix(uris[0], redirectListPrefix) {
		return uris[0]
	}
	if len(uris) == 0 {
		return ""
	}
	b, err := json.Marshal(uris)
	if err != nil { // unreachable: a []string always marshals
		return redirectListPrefix + "[]"
	}
	return redirectListPrefix + string(b)
}

// decodeRedirectURIs reverses encodeRedirectURIs. A baseURI that is not
// an encoded list is one URI; a malformed list is no URI at all.
func decodeRedirectURIs(baseURI string) []string {
	if baseURI == "" {
		return nil
	}
	rest, ok := strings.CutPrefix(baseURI, redirectListPrefix)
	if !ok {
		return []string{baseURI}
	}
	var uris []string
	if err := json.Unmarshal([]byte(rest), &uris); err != nil {
		return nil
	}
	return uris
}

// ValidateURI is a go-oauth2 ValidateURIHandler (pass it to the manager's
// SetValidateURIHandler) for clients from [NewClientStore]: redirectURI
// must be exactly one of the registered redirect URIs that baseURI, the
// client's [Client.GetDomain], lists ([models.Client.CheckRedirectURI]).
// go-oauth2's default handler only compares host suffixes.
//
// A URI that is not registered is [oerrors.ErrInvalidGrant]: at the token
// endpoint, where the code's redirect URI is checked, RFC 6749 5.2 answers
// a redirect URI that does not match the authorization request's with
// invalid_grant (go-oauth2 answers an error it does not know, such as its
// own ErrInvalidRedirectURI, with a 500 server_error). At the authorization
// endpoint, the server must check the redirect URI before go-oauth2 does,
// since go-oauth2 redirects its errors to the unchecked URI (see the
// package documentation).
func ValidateURI(baseURI, redirectURI string) error {
	c := models.Client{RedirectURIs: decodeRedirectURIs(baseURI)}
	if !c.CheckRedirectURI(redirectURI) {
		return oerrors.ErrInvalidGrant
	}
	return nil
}

// ValidateURILoopback is [ValidateURI] with the loopback exception of
// RFC 8252 7.3, for native apps that receive the redirect on a local port
// chosen at run time: a registered http redirect URI on a loopback IP
// address (http://127.0.0.1/cb, http://[::1]:8080/cb) matches the same URI
// on any port, as [models.Client.CheckRedirectURILoopback] says. Every other
// URI must match exactly. "localhost" is not a loopback address here
// (RFC 8252 8.3). Use it instead of ValidateURI when the server registers
// native apps; it applies to every client of the manager.
func ValidateURILoopback(baseURI, redirectURI string) error {
	c := models.Client{RedirectURIs: decodeRedirectURIs(baseURI)}
	if !c.CheckRedirectURILoopback(redirectURI) {
		return oerrors.ErrInvalidGrant
	}
	return nil
}
