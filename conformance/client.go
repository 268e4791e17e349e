package conformance

import (
	"strings"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var clientTests = []testCase{
	{"CreateGet", testClientCreateGet},
	{"CreatePublic", testClientCreatePublic},
	{"CreateMinimal", testClientCreateMinimal},
	{"NoAliasing", testClientNoAliasing},
	{"CreateDuplicate", testClientCreateDuplicate},
	{"CreateInvalid", testClientCreateInvalid},
	{"GetUnknown", testClientGetUnknown},
	{"IDExactMatch", testClientIDExactMatch},
	{"Authenticate", testClientAuthenticate},
	{"AuthenticateWrongSecret", testClientAuthenticateWrongSecret},
	{"AuthenticatePublic", testClientAuthenticatePublic},
	{"AuthenticateUnknown", testClientAuthenticateUnknown},
	{"SecretHashSalted", testClientSecretHashSalted},
	{"Delete", testClientDelete},
	{"DeleteUnknown", testClientDeleteUnknown},
	{"DeleteCascades", testClientDeleteCascades},
	{"DeleteNotStoredCascades", testClientDeleteNotStoredCascades},
}

// Every field round-trips; the secret is never returned, SecretHash is; the
// argument is not modified.
func testClientCreateGet(h *harness) {
	c := h.newClient(true)
	before := c.Clone()
	h.createClient(c)
	var d differ
	d.field("ClientID", c.ClientID, before.ClientID)
	d.credField("ClientSecret", c.ClientSecret, before.ClientSecret)
	d.field("SecretHash", c.SecretHash, before.SecretHash)
	d.field("GrantTypes", c.GrantTypes, before.GrantTypes)
	d.field("ResponseTypes", c.ResponseTypes, before.ResponseTypes)
	d.field("RedirectURIs", c.RedirectURIs, before.RedirectURIs)
	d.field("Scope", c.Scope, before.Scope)
	d.field("UserID", c.UserID, before.UserID)
	if len(d.diffs) > 0 {
		h.t.Errorf("CreateClient modified its argument:\n\t%s", h.redact(strings.Join(d.diffs, "\n\t")))
	}
	h.expectClient(before)
}

// A client without a secret is public: no SecretHash, IsPublic.
func testClientCreatePublic(h *harness) {
	c := h.newClient(false)
	h.createClient(c)
	h.expectClient(c)
}

// A client with only an ID is valid and reads back with empty fields.
func testClientCreateMinimal(h *harness) {
	c := &models.Client{ClientID: h.id("client")}
	h.createClient(c)
	h.expectClient(c)
}

// The store keeps its own copy: changing the caller's client after
// CreateClient, or a returned client, changes nothing stored.
func testClientNoAliasing(h *harness) {
	c := h.newClient(true)
	want := c.Clone()
	h.createClient(c)
	c.GrantTypes[0] = "changed"
	c.ResponseTypes[0] = "changed"
	c.RedirectURIs[0] = "https://attacker.example/cb"
	c.Scope = "changed"
	got, err := h.s.GetClient(h.ctx, want.ClientID)
	h.must(err, "GetClient(%q)", want.ClientID)
	h.checkClient("GetClient after the caller changed its argument", got, want)
	if len(got.GrantTypes) > 0 {
		got.GrantTypes[0] = "changed"
	}
	if len(got.ResponseTypes) > 0 {
		got.ResponseTypes[0] = "changed"
	}
	if len(got.RedirectURIs) > 0 {
		got.RedirectURIs[0] = "https://attacker.example/cb"
	}
	h.expectClient(want)
}

// A taken client ID is ErrAlreadyExists and the stored client, secret
// included, stays as it was.
func testClientCreateDuplicate(h *harness) {
	orig := h.newClient(true)
	h.createClient(orig)
	dup := h.newClient(true)
	dup.ClientID = orig.ClientID
	h.wantErr(h.s.CreateClient(h.ctx, dup), storage.ErrAlreadyExists, "CreateClient with a taken ID")
	h.expectClient(orig)
	_, err := h.s.AuthenticateClient(h.ctx, orig.ClientID, orig.ClientSecret)
	h.must(err, "AuthenticateClient with the first client's secret after a rejected duplicate")
	_, err = h.s.AuthenticateClient(h.ctx, orig.ClientID, dup.ClientSecret)
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient with the rejected duplicate's secret")

	public := h.newClient(false)
	public.ClientID = orig.ClientID
	h.wantErr(h.s.CreateClient(h.ctx, public), storage.ErrAlreadyExists, "CreateClient of a public client with a taken ID")
	h.expectClient(orig)
}

// Malformed clients are ErrInvalid and nothing is written.
func testClientCreateInvalid(h *harness) {
	cases := []struct {
		name   string
		mutate func(c *models.Client)
	}{
		{"empty client ID", func(c *models.Client) { c.ClientID = "" }},
		{"unknown grant type", func(c *models.Client) {
			c.GrantTypes = append(c.GrantTypes, "urn:example:unknown-grant")
		}},
		{"empty grant type", func(c *models.Client) { c.GrantTypes = append(c.GrantTypes, "") }},
		{"unknown response type", func(c *models.Client) {
			c.ResponseTypes = append([]models.ResponseType{"urn:example:unknown-response"}, c.ResponseTypes...)
		}},
		{"empty redirect URI", func(c *models.Client) { c.RedirectURIs = append(c.RedirectURIs, "") }},
	}
	for _, tc := range cases {
		c := h.newClient(true)
		tc.mutate(c)
		h.wantErr(h.s.CreateClient(h.ctx, c), storage.ErrInvalid, "CreateClient with %s", tc.name)
		h.clientErr(c.ClientID, storage.ErrNotFound, "after CreateClient with "+tc.name)
		_, err := h.s.AuthenticateClient(h.ctx, c.ClientID, c.ClientSecret)
		h.wantErr(err, storage.ErrNotFound, "AuthenticateClient after CreateClient with %s", tc.name)
	}
}

func testClientGetUnknown(h *harness) {
	h.createClient(h.newClient(true))
	h.clientErr(h.id("client"), storage.ErrNotFound, "of an unknown ID")
	h.clientErr("", storage.ErrNotFound, "of the empty ID")
}

// Client IDs match exactly: no case folding, no trimming, no prefixes.
func testClientIDExactMatch(h *harness) {
	c := h.newClient(true)
	c.ClientID = "Client-" + h.randString(8) + "-MixedCase"
	h.createClient(c)
	for _, id := range []string{
		strings.ToLower(c.ClientID),
		strings.ToUpper(c.ClientID),
		c.ClientID + " ",
		" " + c.ClientID,
		c.ClientID[:len(c.ClientID)-1],
		c.ClientID + "x",
	} {
		h.clientErr(id, storage.ErrNotFound, "of a near miss of a stored ID")
	}
	other := h.newClient(false)
	other.ClientID = strings.ToLower(c.ClientID)
	h.createClient(other)
	h.expectClient(c)
	h.expectClient(other)
}

// The right secret authenticates and returns the client as GetClient does.
func testClientAuthenticate(h *harness) {
	c := h.newClient(true)
	h.createClient(c)
	got, err := h.s.AuthenticateClient(h.ctx, c.ClientID, c.ClientSecret)
	h.must(err, "AuthenticateClient(%q) with the right secret", c.ClientID)
	h.checkClient("AuthenticateClient", got, c)

	long := h.newClient(true)
	long.ClientSecret += strings.Repeat("L", 100) + h.secret("client secret")
	h.createClient(long)
	got, err = h.s.AuthenticateClient(h.ctx, long.ClientID, long.ClientSecret)
	h.must(err, "AuthenticateClient(%q) with the right secret of %d bytes", long.ClientID, len(long.ClientSecret))
	h.checkClient("AuthenticateClient with a long secret", got, long)
}

// Wrong secrets, including near misses and the hash itself, are
// ErrInvalidSecret.
func testClientAuthenticateWrongSecret(h *harness) {
	c := h.newClient(true)
	c.ClientSecret += strings.Repeat("x", 80) // longer than bcrypt's 72 bytes
	h.createClient(c)
	stored, err := h.s.GetClient(h.ctx, c.ClientID)
	h.must(err, "GetClient(%q)", c.ClientID)
	wrong := []struct {
		name, secret string
	}{
		{"another secret", h.secret("client secret")},
		{"the empty secret", ""},
		{"the secret without its last byte", c.ClientSecret[:len(c.ClientSecret)-1]},
		{"the secret with a byte appended", c.ClientSecret + "x"},
		{"the secret changed after byte 72", c.ClientSecret[:len(c.ClientSecret)-1] + "y"},
		{"the secret in upper case", strings.ToUpper(c.ClientSecret)},
		{"the stored SecretHash", stored.SecretHash},
	}
	for _, w := range wrong {
		got, err := h.s.AuthenticateClient(h.ctx, c.ClientID, w.secret)
		if h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient with %s", w.name) && got != nil && got.ClientSecret != "" {
			h.t.Errorf("AuthenticateClient with %s returned a client carrying a secret", w.name)
		}
	}
}

// A public client can never authenticate, with or without a secret.
func testClientAuthenticatePublic(h *harness) {
	c := h.newClient(false)
	h.createClient(c)
	_, err := h.s.AuthenticateClient(h.ctx, c.ClientID, "")
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient of a public client with the empty secret")
	_, err = h.s.AuthenticateClient(h.ctx, c.ClientID, h.secret("client secret"))
	h.wantErr(err, storage.ErrInvalidSecret, "AuthenticateClient of a public client with a secret")
}

func testClientAuthenticateUnknown(h *harness) {
	c := h.newClient(true)
	h.createClient(c)
	_, err := h.s.AuthenticateClient(h.ctx, h.id("client"), c.ClientSecret)
	h.wantErr(err, storage.ErrNotFound, "AuthenticateClient of an unknown client with another client's secret")
	_, err = h.s.AuthenticateClient(h.ctx, "", "")
	h.wantErr(err, storage.ErrNotFound, "AuthenticateClient of the empty ID")
}

// Secrets are stored salted: the same secret gives two different hashes,
// and each client authenticates only with its own ID.
func testClientSecretHashSalted(h *harness) {
	a := h.newClient(true)
	b := h.newClient(true)
	b.ClientSecret = a.ClientSecret
	h.createClient(a)
	h.createClient(b)
	ga, err := h.s.GetClient(h.ctx, a.ClientID)
	h.must(err, "GetClient(%q)", a.ClientID)
	gb, err := h.s.GetClient(h.ctx, b.ClientID)
	h.must(err, "GetClient(%q)", b.ClientID)
	if ga.SecretHash == "" || ga.SecretHash == gb.SecretHash {
		h.t.Errorf("two clients with the same secret have the same SecretHash: the hash is not salted")
	}
	for _, c := range []*models.Client{a, b} {
		_, err := h.s.AuthenticateClient(h.ctx, c.ClientID, c.ClientSecret)
		h.must(err, "AuthenticateClient(%q)", c.ClientID)
	}
}

// DeleteClient deletes the client; the ID can be reused.
func testClientDelete(h *harness) {
	c := h.newClient(true)
	keep := h.newClient(true)
	h.createClient(c)
	h.createClient(keep)
	h.must(h.s.DeleteClient(h.ctx, c.ClientID), "DeleteClient(%q)", c.ClientID)
	h.clientErr(c.ClientID, storage.ErrNotFound, "after DeleteClient")
	_, err := h.s.AuthenticateClient(h.ctx, c.ClientID, c.ClientSecret)
	h.wantErr(err, storage.ErrNotFound, "AuthenticateClient after DeleteClient")
	h.wantErr(h.s.DeleteClient(h.ctx, c.ClientID), storage.ErrNotFound, "DeleteClient again")
	h.expectClient(keep)

	again := h.newClient(false)
	again.ClientID = c.ClientID
	h.createClient(again)
	h.expectClient(again)
}

func testClientDeleteUnknown(h *harness) {
	c := h.newClient(true)
	h.createClient(c)
	h.wantErr(h.s.DeleteClient(h.ctx, h.id("client")), storage.ErrNotFound, "DeleteClient of an unknown client")
	h.expectClient(c)
}

// DeleteClient deletes the client's codes and tokens, used, revoked or
// live, and nothing of another client.
func testClientDeleteCascades(h *harness) {
	p := h.population(3, true)
	gone, kept := p[1], []*member{p[0], p[2]}
	gone.consumeFirstCode(h)
	gone.revokeFirstToken(h)
	h.must(h.s.DeleteClient(h.ctx, gone.client.ClientID), "DeleteClient(%q)", gone.client.ClientID)
	gone.expectGone(h, "after DeleteClient")
	for _, m := range kept {
		m.expectLive(h)
	}
}

// DeleteClient of a client ID that is not stored still deletes the codes
// and tokens issued to it, and reports ErrNotFound.
func testClientDeleteNotStoredCascades(h *harness) {
	p := h.population(3, false)
	gone, kept := p[0], p[1:]
	gone.consumeFirstCode(h)
	h.wantErr(h.s.DeleteClient(h.ctx, gone.client.ClientID), storage.ErrNotFound,
		"DeleteClient of a client ID that has codes and tokens but no stored client")
	gone.expectGone(h, "after DeleteClient of a client that was not stored")
	for _, m := range kept {
		m.expectLive(h)
	}
}
