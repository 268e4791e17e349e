package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The Manage group checks [storage.ClientManager] and, where the store
// implements it, [storage.StatsReporter].
var manageTests = []testCase{
	{"Update", testManageUpdate},
	{"UpdateKeepsSecrets", testManageUpdateKeepsSecrets},
	{"UpdateInvalid", testManageUpdateInvalid},
	{"RotateSecretOverlap", testManageRotateOverlap},
	{"RotateSecretNoOverlap", testManageRotateNoOverlap},
	{"RotateSecretTwice", testManageRotateTwice},
	{"RotateSecretMakesConfidential", testManageRotatePublic},
	{"RotateSecretInvalid", testManageRotateInvalid},
	{"RemoveSecrets", testManageRemoveSecrets},
	{"ListPages", testManageListPages},
	{"ListByOwner", testManageListByOwner},
	{"ListInvalid", testManageListInvalid},
	{"ListInvalidCursor", testManageListInvalidCursor},
	{"ListStableUnderInserts", testManageListStable},
	{"RevokeClientTokens", testManageRevokeClientTokens},
	{"Stats", testManageStats},
}

// manager returns the store's client management.
func (h *harness) manager() storage.ClientManager { return h.s }

// authOK and authErr authenticate a client with a secret.
func (h *harness) authOK(clientID, secretValue, when string) {
	h.t.Helper()
	_, err := h.s.AuthenticateClient(h.ctx, clientID, secretValue)
	if err != nil {
		h.t.Errorf("AuthenticateClient %s (clock %s): unexpected error: %s", when, h.clock, h.errString(err))
	}
}

func (h *harness) authErr(clientID, secretValue string, want error, when string) {
	h.t.Helper()
	_, err := h.s.AuthenticateClient(h.ctx, clientID, secretValue)
	h.wantErr(err, want, "AuthenticateClient %s (clock %s)", when, h.clock)
}

// changed returns an update of c: every field but the ID and secret new.
func (h *harness) changed(c *models.Client) *models.Client {
	u := h.newClient(false)
	u.ClientID = c.ClientID
	u.RedirectURIs = []string{"https://changed-" + strings.ToLower(h.randString(6)) + ".example.com/cb"}
	return u
}

// UpdateClient replaces the registration, every field, and reads back as
// the update; the caller's value is not modified.
func testManageUpdate(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	u := h.changed(c)
	u.SecretHash = "ignored-hash"
	before := *u.Clone()
	h.must(m.UpdateClient(h.ctx, u), "UpdateClient")
	if !slices.Equal(u.RedirectURIs, before.RedirectURIs) || u.SecretHash != before.SecretHash {
		h.t.Error("UpdateClient modified the caller's client")
	}
	got, err := h.s.GetClient(h.ctx, c.ClientID)
	h.must(err, "GetClient after UpdateClient")
	want := u.Clone()
	want.ClientSecret = c.ClientSecret // still confidential
	h.checkClient("GetClient after UpdateClient", got, want)
	h.wantErr(m.UpdateClient(h.ctx, h.newClient(false)), storage.ErrNotFound, "UpdateClient of an unknown client")
}

// An update keeps the client's secrets, current and previous, and whether
// it is public.
func testManageUpdateKeepsSecrets(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	next := h.secret("client secret")
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, next, h.now().Add(time.Hour)), "RotateClientSecret")
	h.must(m.UpdateClient(h.ctx, h.changed(c)), "UpdateClient of a confidential client in rotation")
	h.authOK(c.ClientID, next, "with the current secret after an update")
	h.authOK(c.ClientID, c.ClientSecret, "with the previous secret, within its overlap, after an update")
	public := h.newClient(false)
	h.createClient(public)
	h.must(m.UpdateClient(h.ctx, h.changed(public)), "UpdateClient of a public client")
	got, err := h.s.GetClient(h.ctx, public.ClientID)
	h.must(err, "GetClient")
	if !got.IsPublic() {
		h.t.Error("a public client became confidential through UpdateClient")
	}
}

// A malformed update, or one with a secret, is ErrInvalid and changes
// nothing.
func testManageUpdateInvalid(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	for _, tc := range []struct {
		name   string
		mutate func(u *models.Client)
	}{
		{"a secret", func(u *models.Client) { u.ClientSecret = h.secret("client secret") }},
		{"an unknown grant type", func(u *models.Client) { u.GrantTypes = []models.GrantType{"urn:example:unknown"} }},
		{"a relative redirect URI", func(u *models.Client) { u.RedirectURIs = []string{"/callback"} }},
		{"a scope over its limit", func(u *models.Client) { u.Scope = strings.Repeat("s", storage.MaxScopeLen+1) }},
		{"invalid UTF-8 in its user ID", func(u *models.Client) { u.UserID = "\xff" }},
	} {
		u := h.changed(c)
		tc.mutate(u)
		h.wantErr(m.UpdateClient(h.ctx, u), storage.ErrInvalid, "UpdateClient with %s", tc.name)
	}
	h.wantErr(m.UpdateClient(h.ctx, nil), storage.ErrInvalid, "UpdateClient(nil)")
	h.expectClient(c)
	h.authOK(c.ClientID, c.ClientSecret, "after refused updates")
}

// After a rotation both secrets work until the overlap ends, its end
// included; then only the new one.
func testManageRotateOverlap(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	next := h.secret("client secret")
	until := h.now().Add(time.Hour)
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, next, until), "RotateClientSecret")
	got, err := h.s.GetClient(h.ctx, c.ClientID)
	h.must(err, "GetClient")
	if !got.PreviousSecretValidUntil.Equal(until) {
		h.t.Errorf("PreviousSecretValidUntil = %v, want %v", got.PreviousSecretValidUntil, until)
	}
	h.checkClient("GetClient after RotateClientSecret", got, c)
	for _, at := range []time.Duration{0, time.Hour} {
		h.setClock(until.Add(at - time.Hour))
		h.authOK(c.ClientID, next, "with the new secret")
		h.authOK(c.ClientID, c.ClientSecret, "with the previous secret within its overlap")
	}
	h.setClock(until.Add(time.Millisecond))
	h.authOK(c.ClientID, next, "with the new secret after the overlap")
	h.authErr(c.ClientID, c.ClientSecret, storage.ErrInvalidSecret, "with the previous secret a millisecond after its overlap")
	got, err = h.s.GetClient(h.ctx, c.ClientID)
	h.must(err, "GetClient")
	if !got.PreviousSecretValidUntil.IsZero() {
		h.t.Errorf("PreviousSecretValidUntil = %v after the overlap ended, want zero", got.PreviousSecretValidUntil)
	}
}

// A rotation without an overlap, or with one already over, ends the old
// secret at once.
func testManageRotateNoOverlap(h *harness) {
	m := h.manager()
	for _, until := range []time.Time{{}, h.now().Add(-time.Millisecond)} {
		c := h.newClient(true)
		h.createClient(c)
		next := h.secret("client secret")
		h.must(m.RotateClientSecret(h.ctx, c.ClientID, next, until), "RotateClientSecret without overlap")
		h.authOK(c.ClientID, next, "with the new secret")
		h.authErr(c.ClientID, c.ClientSecret, storage.ErrInvalidSecret, "with the old secret after a rotation without overlap")
	}
}

// A second rotation drops the oldest secret.
func testManageRotateTwice(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	second, third := h.secret("client secret"), h.secret("client secret")
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, second, h.now().Add(time.Hour)), "RotateClientSecret")
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, third, h.now().Add(time.Hour)), "RotateClientSecret again")
	h.authErr(c.ClientID, c.ClientSecret, storage.ErrInvalidSecret, "with the first secret after two rotations")
	h.authOK(c.ClientID, second, "with the second secret, now the previous one")
	h.authOK(c.ClientID, third, "with the third secret")
}

// A public client given a secret becomes confidential.
func testManageRotatePublic(h *harness) {
	m := h.manager()
	c := h.newClient(false)
	h.createClient(c)
	s := h.secret("client secret")
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, s, h.now().Add(time.Hour)), "RotateClientSecret of a public client")
	h.authOK(c.ClientID, s, "with the secret of a client that was public")
	with := c.Clone()
	with.ClientSecret = s
	h.expectClient(with)
}

// A malformed secret is ErrInvalid and an unknown client ErrNotFound; the
// old secret keeps working.
func testManageRotateInvalid(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	for name, s := range map[string]string{
		"an empty secret":         "",
		"a secret with a NUL":     "nul\x00" + h.randString(8),
		"a secret over its limit": strings.Repeat("s", storage.MaxCredentialLen+1),
	} {
		h.wantErr(m.RotateClientSecret(h.ctx, c.ClientID, s, h.now().Add(time.Hour)), storage.ErrInvalid, "RotateClientSecret with %s", name)
	}
	h.wantErr(m.RotateClientSecret(h.ctx, h.id("client"), h.secret("client secret"), time.Time{}), storage.ErrNotFound, "RotateClientSecret of an unknown client")
	h.authOK(c.ClientID, c.ClientSecret, "after refused rotations")
	got, err := h.s.GetClient(h.ctx, c.ClientID)
	h.must(err, "GetClient")
	if !got.PreviousSecretValidUntil.IsZero() {
		h.t.Error("a refused rotation left a previous secret")
	}
}

// RemoveClientSecrets makes the client public at once, in rotation or not.
func testManageRemoveSecrets(h *harness) {
	m := h.manager()
	c := h.newClient(true)
	h.createClient(c)
	next := h.secret("client secret")
	h.must(m.RotateClientSecret(h.ctx, c.ClientID, next, h.now().Add(time.Hour)), "RotateClientSecret")
	h.must(m.RemoveClientSecrets(h.ctx, c.ClientID), "RemoveClientSecrets")
	for _, s := range []string{c.ClientSecret, next} {
		h.authErr(c.ClientID, s, storage.ErrInvalidSecret, "of a client whose secrets were removed")
	}
	public := c.Clone()
	public.ClientSecret = ""
	h.expectClient(public)
	h.wantErr(m.RemoveClientSecrets(h.ctx, h.id("client")), storage.ErrNotFound, "RemoveClientSecrets of an unknown client")
}

// listAll pages through ListClients with q and returns the client IDs.
func (h *harness) listAll(q storage.ClientQuery, between func(page int, after string)) []string {
	h.t.Helper()
	var ids []string
	for page := 0; ; page++ {
		p, err := h.manager().ListClients(h.ctx, q)
		h.must(err, "ListClients(after %q, limit %d, user %q)", q.After, q.Limit, q.UserID)
		limit := q.Limit
		if limit == 0 {
			limit = storage.DefaultListLimit
		}
		if len(p.Clients) > limit {
			h.t.Fatalf("ListClients returned %d clients with a limit of %d", len(p.Clients), limit)
		}
		for _, c := range p.Clients {
			if c.ClientSecret != "" {
				h.t.Fatal("ListClients returned a client with its secret")
			}
			ids = append(ids, c.ClientID)
		}
		if p.Next == "" {
			return ids
		}
		if len(p.Clients) == 0 || p.Next != p.Clients[len(p.Clients)-1].ClientID {
			h.t.Fatalf("ListClients: Next = %q, want the last client ID of the page", p.Next)
		}
		if page > 10_000 {
			h.t.Fatal("ListClients never ended")
		}
		q.After = p.Next
		if between != nil {
			between(page, q.After)
		}
	}
}

// mixedIDs are client IDs whose bytewise order differs from a
// case-insensitive or locale-aware one.
func (h *harness) mixedIDs(n int) []string {
	stems := []string{"Alpha", "alpha", "Beta", "beta", "Zulu", "zulu", "élan", "Ézio", "_under", "-dash", "9nine", "日本"}
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("%s-%s", stems[i%len(stems)], h.randString(6)))
	}
	return ids
}

// Pages list every client exactly once, in bytewise client ID order, and
// the last page says so.
func testManageListPages(h *harness) {
	var want []string
	created := map[string]*models.Client{}
	for _, id := range h.mixedIDs(23) {
		c := h.newClient(len(want)%2 == 0)
		c.ClientID = id
		h.createClient(c)
		want = append(want, id)
		created[id] = c
	}
	slices.Sort(want) // Go compares strings bytewise
	for _, limit := range []int{1, 7, 23, 0} {
		got := h.listAll(storage.ClientQuery{Limit: limit}, nil)
		if !slices.Equal(got, want) {
			h.t.Fatalf("ListClients with limit %d listed\n\t%q\nwant, in bytewise order,\n\t%q", limit, got, want)
		}
	}
	p, err := h.manager().ListClients(h.ctx, storage.ClientQuery{Limit: 23})
	h.must(err, "ListClients")
	if p.Next != "" {
		h.t.Errorf("a page holding the last client has Next = %q, want empty", p.Next)
	}
	for _, c := range p.Clients {
		h.checkClient("ListClients", c, created[c.ClientID])
	}
	// A cursor that is not a client ID works too.
	mid := want[10] + "\x01"
	got := h.listAll(storage.ClientQuery{After: mid, Limit: 5}, nil)
	if !slices.Equal(got, want[11:]) {
		h.t.Errorf("ListClients after %q listed %q, want %q", mid, got, want[11:])
	}
}

// The owner filter lists the clients of one user, paged the same way.
func testManageListByOwner(h *harness) {
	owner, other := h.id("user"), h.id("user")
	var want []string
	for i, id := range h.mixedIDs(17) {
		c := h.newClient(true)
		c.ClientID = id
		c.UserID = other
		if i%3 == 0 {
			c.UserID = owner
			want = append(want, id)
		}
		h.createClient(c)
	}
	slices.Sort(want)
	got := h.listAll(storage.ClientQuery{UserID: owner, Limit: 2}, nil)
	if !slices.Equal(got, want) {
		h.t.Errorf("ListClients of user %q listed %q, want %q", owner, got, want)
	}
	if got := h.listAll(storage.ClientQuery{UserID: h.id("user")}, nil); len(got) != 0 {
		h.t.Errorf("ListClients of a user with no client listed %q", got)
	}
}

func testManageListInvalid(h *harness) {
	for _, limit := range []int{-1, storage.MaxListLimit + 1} {
		_, err := h.manager().ListClients(h.ctx, storage.ClientQuery{Limit: limit})
		h.wantErr(err, storage.ErrInvalid, "ListClients with limit %d", limit)
	}
	p, err := h.manager().ListClients(h.ctx, storage.ClientQuery{Limit: storage.MaxListLimit})
	h.must(err, "ListClients with the largest limit")
	if len(p.Clients) != 0 || p.Next != "" {
		h.t.Errorf("ListClients of an empty store = %d clients, Next %q", len(p.Clients), p.Next)
	}
}

// A cursor no client ID could equal (invalid UTF-8, a NUL, longer than
// storage.MaxIDLen) is ErrInvalid, with or without an owner filter, on
// every backend alike: no page returned it as Next, and a database may
// refuse to bind it. A cursor of a client ID's form at the limit, stored
// or not, is not.
func testManageListInvalidCursor(h *harness) {
	c := h.newClient(false)
	h.createClient(c)
	for _, after := range []string{
		"a\xffb",
		c.ClientID + "\x00",
		"\x00",
		string([]byte{0xe6, 0x97}), // a truncated multi-byte sequence
		strings.Repeat("a", storage.MaxIDLen+1),
	} {
		for _, owner := range []string{"", c.UserID} {
			p, err := h.manager().ListClients(h.ctx, storage.ClientQuery{After: after, UserID: owner})
			if !h.wantErr(err, storage.ErrInvalid, "ListClients after a cursor of %d bytes (%+.40q), owner %q", len(after), after, owner) {
				h.t.Logf("it listed %d clients, Next %q", len(p.Clients), p.Next)
			}
		}
	}
	for _, after := range []string{strings.Repeat("\x01", storage.MaxIDLen), c.ClientID} {
		p, err := h.manager().ListClients(h.ctx, storage.ClientQuery{After: after, Limit: 1})
		h.must(err, "ListClients after a cursor of %d bytes", len(after))
		for _, got := range p.Clients {
			if got.ClientID <= after {
				h.t.Errorf("ListClients after %+.40q listed %q, which does not sort after it", after, got.ClientID)
			}
		}
	}
}

// Keyset pages are stable: clients inserted while a listing goes on, before
// or after its cursor, never make it skip or repeat one that was there.
func testManageListStable(h *harness) {
	var before []string
	for _, id := range h.mixedIDs(30) {
		c := h.newClient(false)
		c.ClientID = id
		h.createClient(c)
		before = append(before, id)
	}
	slices.Sort(before)
	// Inserts between pages, on both sides of the cursor.
	got := h.listAll(storage.ClientQuery{Limit: 4}, func(page int, after string) {
		for _, id := range []string{after + "-next", "0-first-" + h.randString(4), "\U0010FFFF-last-" + h.randString(4)} {
			c := h.newClient(false)
			c.ClientID = id
			if err := h.s.CreateClient(h.ctx, c); !errors.Is(err, storage.ErrAlreadyExists) {
				h.must(err, "CreateClient during a listing")
			}
		}
	})
	// And inserts from another goroutine while pages are read: a bounded
	// number, so that a slow store's listing still ends.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 40 {
			select {
			case <-stop:
				return
			default:
			}
			c := h.newClient(false)
			c.ClientID = fmt.Sprintf("%s-concurrent-%d", before[i%len(before)], i)
			_ = h.s.CreateClient(h.ctx, c)
		}
	})
	got2 := h.listAll(storage.ClientQuery{Limit: 3}, nil)
	close(stop)
	wg.Wait()
	for name, list := range map[string][]string{"between pages": got, "concurrently": got2} {
		if !slices.IsSorted(list) {
			h.t.Errorf("a listing with inserts %s is not in bytewise order", name)
		}
		seen := map[string]int{}
		for _, id := range list {
			seen[id]++
		}
		for _, id := range before {
			if seen[id] != 1 {
				h.t.Errorf("a listing with inserts %s listed client %q %d times, want once", name, id, seen[id])
			}
		}
	}
}

// RevokeClientTokens revokes the client's tokens and makes its codes
// unusable, keeps the client, and touches no other client.
func testManageRevokeClientTokens(h *harness) {
	m := h.manager()
	p := h.population(2, true)
	target, other := p[0], p[1]
	h.must(m.RevokeClientTokens(h.ctx, target.client.ClientID), "RevokeClientTokens")
	for _, c := range target.codes {
		h.consumeErr(c.Code, storage.ErrAlreadyUsed, "of a code of a client whose tokens were revoked")
	}
	for _, tok := range target.tokens {
		h.revokedPair(tok, "RevokeClientTokens")
	}
	h.authOK(target.client.ClientID, target.client.ClientSecret, "of a client whose tokens were revoked")
	other.expectLive(h)
	// Tokens of a client not stored here are revoked too.
	loose := h.newToken(h.id("client"), true)
	h.createToken(loose)
	h.must(m.RevokeClientTokens(h.ctx, loose.ClientID), "RevokeClientTokens of a client not stored")
	h.revokedPair(loose, "RevokeClientTokens of a client not stored")
	h.wantErr(m.RevokeClientTokens(h.ctx, h.id("client")), storage.ErrNotFound, "RevokeClientTokens of a client with nothing stored")
}

// Stats counts every record in its state, in total and by client.
func testManageStats(h *harness) {
	r, ok := h.s.(storage.StatsReporter)
	if !ok {
		h.t.Skip("the store does not implement storage.StatsReporter")
	}
	a, b := h.newClient(true), h.newClient(false)
	h.createClient(a)
	h.createClient(b)
	loose := h.id("client") // codes and tokens without a stored client
	var want = map[string]*storage.RecordCounts{a.ClientID: {}, b.ClientID: {}, loose: {}}
	for _, id := range []string{a.ClientID, b.ClientID, loose} {
		live, used, expiring := h.newCode(id), h.newCode(id), h.newCode(id)
		expiring.ExpiresIn = time.Minute
		for _, c := range []*models.AuthorizationCode{live, used, expiring} {
			h.createCode(c)
		}
		_, err := h.s.ConsumeAuthorizationCode(h.ctx, used.Code)
		h.must(err, "ConsumeAuthorizationCode")
		liveTok, revoked, short := h.newToken(id, true), h.newToken(id, true), h.newToken(id, false)
		short.ExpiresIn = time.Minute
		for _, tok := range []*models.Token{liveTok, revoked, short} {
			h.createToken(tok)
		}
		h.must(h.s.RevokeToken(h.ctx, revoked.AccessToken), "RevokeToken")
		want[id] = &storage.RecordCounts{LiveCodes: 1, UsedCodes: 1, ExpiredCodes: 1, LiveTokens: 1, RevokedTokens: 1, ExpiredTokens: 1}
	}
	h.advance(2 * time.Minute)
	st, err := r.Stats(h.ctx)
	h.must(err, "Stats")
	if st.Clients != 2 {
		h.t.Errorf("Stats: Clients = %d, want 2", st.Clients)
	}
	total := storage.RecordCounts{LiveCodes: 3, UsedCodes: 3, ExpiredCodes: 3, LiveTokens: 3, RevokedTokens: 3, ExpiredTokens: 3}
	if st.Total != total {
		h.t.Errorf("Stats: Total = %+v, want %+v", st.Total, total)
	}
	if len(st.ByClient) != 3 || !slices.IsSortedFunc(st.ByClient, func(x, y storage.ClientCounts) int { return strings.Compare(x.ClientID, y.ClientID) }) {
		h.t.Fatalf("Stats: ByClient has %d entries (want 3, one per client ID with records), in client ID order", len(st.ByClient))
	}
	for _, c := range st.ByClient {
		if w, ok := want[c.ClientID]; !ok || c.RecordCounts != *w {
			h.t.Errorf("Stats: client %q counts %+v, want %+v", c.ClientID, c.RecordCounts, w)
		}
	}
}
