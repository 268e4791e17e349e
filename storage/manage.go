package storage

import (
	"context"
	"time"

	"github.com/oauthstore/oauthstore/models"
)

// ClientManager is the part of the contract that manages registered
// clients beyond creating and deleting them: changing a registration,
// rotating secrets with an overlap, listing, and revoking everything a
// client holds. Every method takes ctx first. None returns a secret: a
// client read back carries SecretHash, never ClientSecret.
type ClientManager interface {
	// UpdateClient replaces the registration of the client c.ClientID
	// names (grant and response types, redirect URIs, scope, user ID) with
	// c's, validated as by CreateClient. Its secrets stay as they are, so
	// c.ClientSecret must be empty ([ErrInvalid] otherwise) and
	// c.SecretHash is ignored: use RotateClientSecret and
	// RemoveClientSecrets. An unknown client is [ErrNotFound]. c is not
	// modified.
	UpdateClient(ctx context.Context, c *models.Client) error

	// RotateClientSecret gives the client newSecret, valid at once. The
	// secret the client had until now stays valid too, until
	// previousValidUntil by the store's clock (inclusive, as lifetimes
	// are; a zero or past instant ends it at once), so that every
	// deployment of the client can switch over; then only newSecret is.
	// Rotating again drops the older previous secret. A public client
	// becomes confidential, with no previous secret. An empty or malformed
	// newSecret is [ErrInvalid], an unknown client [ErrNotFound]; the
	// secret is hashed before the client is looked up, so both take the
	// same time.
	RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error

	// RemoveClientSecrets makes the client public: its current and
	// previous secrets stop working at once. An unknown client is
	// [ErrNotFound].
	RemoveClientSecrets(ctx context.Context, clientID string) error

	// ListClients returns the clients ordered by client ID (bytewise),
	// those after q.After and at most q.Limit of them, only those owned by
	// q.UserID if it is set (keyset pagination: pass the page's Next as
	// the next query's After). A client stored before a listing starts and
	// not deleted during it is listed exactly once, whatever is inserted
	// meanwhile; one inserted during it may or may not be. A negative or
	// too large Limit is [ErrInvalid], and so is an After no client ID
	// could equal (longer than [MaxIDLen], invalid UTF-8 or NUL).
	ListClients(ctx context.Context, q ClientQuery) (ClientPage, error)

	// RevokeClientTokens revokes every token issued to the client and
	// makes its unused authorization codes unusable (marked used), as
	// RevokeGrant does for a grant, and keeps the client registered: for
	// a client whose secret leaked. It works whether or not the client is
	// stored here; [ErrNotFound] reports that there was no client, code or
	// token of that client ID.
	RevokeClientTokens(ctx context.Context, clientID string) error
}

// Bounds of [ClientQuery.Limit].
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ClientQuery selects a page of [ClientManager.ListClients].
type ClientQuery struct {
	// After is the cursor: only clients whose ID sorts after it
	// (bytewise) are listed. Empty starts from the first client. It must
	// have the form of a client ID (at most [MaxIDLen] bytes of valid
	// UTF-8 without NUL): any other is [ErrInvalid].
	After string
	// Limit is the most clients a page holds: 0 means DefaultListLimit,
	// more than MaxListLimit or negative is [ErrInvalid].
	Limit int
	// UserID, if not empty, lists only the clients this user owns.
	UserID string
}

// ClientPage is a page of [ClientManager.ListClients].
type ClientPage struct {
	// Clients are the clients of the page, in client ID order.
	Clients []*models.Client
	// Next is the cursor of the next page: the last client ID of this one
	// if more clients follow, empty if this page is the last.
	Next string
}

// StatsReporter is an optional interface of a store that can count what
// it holds, by state and by client, for operators (the oauthstore CLI's
// stats command). The counts are a snapshot by the store's clock; on a
// busy store they may mix instants.
type StatsReporter interface {
	Stats(ctx context.Context) (*Stats, error)
}

// Stats counts a store's records.
type Stats struct {
	// Clients is the number of registered clients.
	Clients int64
	// Total counts every code and token, ByClient per client ID, ordered by
	// client ID (only client IDs that have codes or tokens).
	Total    RecordCounts
	ByClient []ClientCounts
}

// ClientCounts are the [RecordCounts] of one client ID.
type ClientCounts struct {
	ClientID string
	RecordCounts
}

// RecordCounts counts codes and token pairs by state, each record in one
// state, by the store's clock.
type RecordCounts struct {
	// LiveCodes are unused and unexpired; UsedCodes were exchanged or made
	// unusable, expired or not (kept to detect replays); ExpiredCodes
	// expired unused. Used and expired codes go at the next purge once
	// past their expiry.
	LiveCodes, UsedCodes, ExpiredCodes int64
	// LiveTokens are not revoked and have an access or refresh lifetime
	// left; RevokedTokens are revoked, whatever their lifetimes (kept to
	// detect reuse until they expire); ExpiredTokens are not revoked and
	// have no lifetime left. Expired and revoked pairs go at the next purge
	// once both lifetimes are over.
	LiveTokens, RevokedTokens, ExpiredTokens int64
}
