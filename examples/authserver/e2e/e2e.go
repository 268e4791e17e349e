// Package e2e is a test harness, not a library: it runs the end-to-end
// flows of the example authorization server of examples/authserver
// (go-oauth2 on oauthstore through integration/gooauth2) against a store
// the caller makes, so that a test in another module (one that starts its
// databases in containers, say) can run the very flows the example's own
// tests run. It imports package testing; use it from tests only.
//
//	func TestAuthServerFlows(t *testing.T) {
//		e2e.Run(t, func(t *testing.T, now func() time.Time) storage.Storage {
//			return mystore.New(freshDB(t), mystore.WithClock(now), mystore.WithHasher(secret.ForTests()))
//		})
//	}
package e2e

import (
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/examples/authserver/internal/e2etest"
	"github.com/oauthstore/oauthstore/storage"
)

// NewStore returns a fresh, empty store whose clock is now: every expiry
// decision of the store must use it, since the flows move it forward to
// test expiry (it starts at the wall time). A cheap secret hasher
// (secret.ForTests()) keeps the flows fast. Close the store through t.Cleanup
// if it needs closing.
type NewStore = func(t *testing.T, now func() time.Time) storage.Storage

// Run runs every flow of the example server as a subtest of t (named after
// the flow), each on a new server over httptest with a store from newStore:
// the authorization code grant with PKCE, refresh token rotation,
// concurrent refreshes (exactly one wins, the grant is revoked), a stolen
// refresh token replayed (reuse detection), code replay and concurrent code
// exchanges, no GrantID in token responses, revocation, introspection
// rights, expiry on the store's clock, the other grants, the refusal of
// parameters in the URL query, and the status, body and headers of every
// error response of every endpoint.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	e2etest.Run(t, newStore)
}

// Flows returns the names of the flows [Run] runs, in order: the names of
// its subtests, for -run patterns.
func Flows() []string {
	var names []string
	for _, f := range e2etest.Flows() {
		names = append(names, f.Name)
	}
	return names
}
