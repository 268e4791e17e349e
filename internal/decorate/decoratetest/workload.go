package decoratetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed, millisecond-aligned instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Secret is a value no decorator may report.
type Secret struct {
	Kind  string // what it is, safe to print
	Value string
	// Encoded: the value is a credential, also searched for in hex and
	// base64 and as its secret.Digest.
	Encoded bool
}

// Result is what a workload did.
type Result struct {
	// Secrets are every credential it used (client secrets, codes, PKCE
	// verifiers, access and refresh tokens, those that were refused
	// included), the client secret hashes it read, and the grant IDs.
	Secrets []Secret
	// ClientIDs are the client IDs it used: a decorator may report them,
	// and a leak test should find them to show that it searched the right
	// place.
	ClientIDs []string
	// Calls counts the calls by method and outcome.
	Calls map[decorate.Method]map[decorate.Outcome]int
	// Purged is the sum of what PurgeExpired returned.
	Purged int64
}

// Count returns the number of calls of m that ended with o.
func (r *Result) Count(m decorate.Method, o decorate.Outcome) int { return r.Calls[m][o] }

// Total returns the number of calls.
func (r *Result) Total() int {
	n := 0
	for _, byOutcome := range r.Calls {
		for _, c := range byOutcome {
			n += c
		}
	}
	return n
}

// Forms returns what a leak test searches for: every secret in
// plaintext and, for credentials, in hex, base64 and as a digest (plain
// and upper-case). Each form has a printable description.
func (r *Result) Forms() []Secret {
	var out []Secret
	for _, s := range r.Secrets {
		out = append(out, Secret{Kind: s.Kind + " in plaintext", Value: s.Value})
		if !s.Encoded {
			continue
		}
		d := secret.Digest(s.Value)
		out = append(out,
			Secret{Kind: s.Kind + " in hex", Value: hex.EncodeToString([]byte(s.Value))},
			Secret{Kind: s.Kind + " in base64", Value: base64.StdEncoding.EncodeToString([]byte(s.Value))},
			Secret{Kind: s.Kind + " in base64url", Value: base64.RawURLEncoding.EncodeToString([]byte(s.Value))},
			Secret{Kind: "digest of " + s.Kind, Value: d},
			Secret{Kind: "upper-case digest of " + s.Kind, Value: strings.ToUpper(d)},
		)
	}
	return out
}

// Leaks returns the description of every form of a secret found in
// haystack (never the secret itself).
func (r *Result) Leaks(haystack string) []string {
	var out []string
	for _, f := range r.Forms() {
		if strings.Contains(haystack, f.Value) {
			out = append(out, f.Kind)
		}
	}
	return out
}

// CheckNoLeak fails t if haystack, everything a decorator reported, holds
// a secret of the workload; and, to show that haystack is what the
// decorator reported, if it does not hold every client ID.
func (r *Result) CheckNoLeak(t *testing.T, what, haystack string) {
	t.Helper()
	for _, id := range r.ClientIDs {
		if !strings.Contains(haystack, id) {
			t.Errorf("%s (%d bytes) do not contain the client ID %q: the test does not search where the client IDs are reported", what, len(haystack), id)
		}
	}
	if leaks := r.Leaks(haystack); len(leaks) > 0 {
		t.Errorf("%s contain %d secrets of the workload: %s", what, len(leaks), strings.Join(leaks, "; "))
	}
}

// random returns a random credential of 32 base64url characters.
func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type workload struct {
	t     *testing.T
	ctx   context.Context
	s     storage.Storage
	clock *Clock
	r     *Result
}

func (w *workload) cred(kind string) string {
	v := random()
	w.r.Secrets = append(w.r.Secrets, Secret{Kind: kind, Value: v, Encoded: true})
	return v
}

func (w *workload) grant() string {
	v := random()
	w.r.Secrets = append(w.r.Secrets, Secret{Kind: "grant ID", Value: v})
	return v
}

func (w *workload) clientID() string {
	id := "client-" + random()[:12]
	w.r.ClientIDs = append(w.r.ClientIDs, id)
	return id
}

// want counts a call of m and fails the test unless it ended with o.
func (w *workload) want(m decorate.Method, o decorate.Outcome, err error) {
	w.t.Helper()
	got := decorate.OutcomeOf(err)
	if got != o {
		w.t.Fatalf("workload: %s: outcome %s, want %s (error: %v)", m, got, o, err)
	}
	if w.r.Calls[m] == nil {
		w.r.Calls[m] = map[decorate.Outcome]int{}
	}
	w.r.Calls[m][o]++
}

func (w *workload) hash(clientID string) {
	w.t.Helper()
	c, err := w.s.GetClient(w.ctx, clientID)
	w.want(decorate.GetClient, decorate.OK, err)
	if c.SecretHash == "" {
		w.t.Fatalf("workload: client %q has no secret hash", clientID)
	}
	w.r.Secrets = append(w.r.Secrets, Secret{Kind: "client secret hash", Value: c.SecretHash})
}

func (w *workload) newClient(confidential bool) *models.Client {
	c := &models.Client{
		ClientID:      w.clientID(),
		GrantTypes:    []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken},
		ResponseTypes: []models.ResponseType{models.ResponseTypeCode},
		RedirectURIs:  []string{"https://app.example/callback"},
		Scope:         "read write",
		UserID:        "owner",
	}
	if confidential {
		c.ClientSecret = w.cred("client secret")
	}
	return c
}

func (w *workload) newCode(clientID, grantID string) *models.AuthorizationCode {
	return &models.AuthorizationCode{
		Code:                w.cred("authorization code"),
		ClientID:            clientID,
		RedirectURI:         "https://app.example/callback",
		ResponseType:        "code",
		Scope:               "read",
		AuthTime:            w.clock.Now(),
		ExpiresIn:           time.Minute,
		CodeChallenge:       w.cred("PKCE verifier") + w.cred("PKCE verifier"), // plain: the verifier itself (64 characters)
		CodeChallengeMethod: models.CodeChallengePlain,
		UserID:              "alice",
		GrantID:             grantID,
	}
}

func (w *workload) newToken(clientID, grantID string, refresh bool) *models.Token {
	t := &models.Token{
		AccessToken: w.cred("access token"),
		Scope:       "read",
		IssuedAt:    w.clock.Now(),
		ExpiresIn:   time.Hour,
		ClientID:    clientID,
		UserID:      "alice",
		GrantID:     grantID,
	}
	if refresh {
		t.RefreshToken = w.cred("refresh token")
		t.RefreshTokenExpiresIn = 24 * time.Hour
	}
	return t
}

// Workload drives s, a decorated store over an empty memstore whose clock
// is clock, through every reported method and every outcome a store
// reaches (expected errors, conflicts, context errors, a purge), and
// returns the credentials it used and the calls it made. s must implement
// [storage.ClientManager] and [storage.StatsReporter].
func Workload(t *testing.T, s storage.Storage, clock *Clock) *Result {
	t.Helper()
	w := &workload{t: t, ctx: context.Background(), s: s, clock: clock, r: &Result{Calls: map[decorate.Method]map[decorate.Outcome]int{}}}
	ctx := w.ctx
	m, ok := s.(storage.ClientManager)
	if !ok {
		t.Fatalf("workload: %T is no storage.ClientManager", s)
	}
	sr, ok := s.(storage.StatsReporter)
	if !ok {
		t.Fatalf("workload: %T is no storage.StatsReporter", s)
	}
	D := decorate.OK

	// Clients.
	c1, c2, c3 := w.newClient(true), w.newClient(true), w.newClient(false)
	for _, c := range []*models.Client{c1, c2, c3} {
		w.want(decorate.CreateClient, D, s.CreateClient(ctx, c))
	}
	dup := w.newClient(true)
	w.r.ClientIDs = w.r.ClientIDs[:len(w.r.ClientIDs)-1]
	dup.ClientID = c1.ClientID
	w.want(decorate.CreateClient, decorate.AlreadyExists, s.CreateClient(ctx, dup))
	bad := w.newClient(true)
	bad.GrantTypes = []models.GrantType{"bogus"}
	w.want(decorate.CreateClient, decorate.Invalid, s.CreateClient(ctx, bad))
	w.hash(c1.ClientID)
	w.hash(c2.ClientID)
	_, err := s.GetClient(ctx, "no-such-client")
	w.want(decorate.GetClient, decorate.NotFound, err)
	_, err = s.AuthenticateClient(ctx, c1.ClientID, c1.ClientSecret)
	w.want(decorate.AuthenticateClient, D, err)
	_, err = s.AuthenticateClient(ctx, c1.ClientID, w.cred("wrong client secret"))
	w.want(decorate.AuthenticateClient, decorate.InvalidSecret, err)
	_, err = s.AuthenticateClient(ctx, c3.ClientID, w.cred("wrong client secret"))
	w.want(decorate.AuthenticateClient, decorate.InvalidSecret, err)

	// Client management.
	upd := c1.Clone()
	upd.ClientSecret = ""
	upd.Scope = "read"
	w.want(decorate.UpdateClient, D, m.UpdateClient(ctx, upd))
	w.want(decorate.UpdateClient, decorate.Invalid, m.UpdateClient(ctx, c2))
	rotated := w.cred("rotated client secret")
	w.want(decorate.RotateClientSecret, D, m.RotateClientSecret(ctx, c1.ClientID, rotated, clock.Now().Add(time.Hour)))
	w.want(decorate.RotateClientSecret, decorate.NotFound, m.RotateClientSecret(ctx, "no-such-client", w.cred("client secret"), time.Time{}))
	w.hash(c1.ClientID)
	_, err = s.AuthenticateClient(ctx, c1.ClientID, rotated)
	w.want(decorate.AuthenticateClient, D, err)
	_, err = s.AuthenticateClient(ctx, c1.ClientID, c1.ClientSecret)
	w.want(decorate.AuthenticateClient, D, err) // the previous secret, within its overlap
	w.want(decorate.RemoveClientSecrets, D, m.RemoveClientSecrets(ctx, c2.ClientID))
	_, err = m.ListClients(ctx, storage.ClientQuery{})
	w.want(decorate.ListClients, D, err)
	_, err = m.ListClients(ctx, storage.ClientQuery{Limit: -1})
	w.want(decorate.ListClients, decorate.Invalid, err)

	// Codes.
	g1, g2, g3 := w.grant(), w.grant(), w.grant()
	code1 := w.newCode(c1.ClientID, g1)
	w.want(decorate.CreateAuthorizationCode, D, s.CreateAuthorizationCode(ctx, code1))
	w.want(decorate.CreateAuthorizationCode, decorate.AlreadyExists, s.CreateAuthorizationCode(ctx, code1))
	_, err = s.GetAuthorizationCode(ctx, code1.Code)
	w.want(decorate.GetAuthorizationCode, D, err)
	_, err = s.ConsumeAuthorizationCode(ctx, code1.Code)
	w.want(decorate.ConsumeAuthorizationCode, D, err)
	_, err = s.ConsumeAuthorizationCode(ctx, code1.Code)
	w.want(decorate.ConsumeAuthorizationCode, decorate.AlreadyUsed, err)
	_, err = s.GetAuthorizationCode(ctx, code1.Code)
	w.want(decorate.GetAuthorizationCode, decorate.AlreadyUsed, err)
	_, err = s.GetAuthorizationCode(ctx, w.cred("unknown code"))
	w.want(decorate.GetAuthorizationCode, decorate.NotFound, err)
	code2 := w.newCode(c2.ClientID, g2)
	w.want(decorate.CreateAuthorizationCode, D, s.CreateAuthorizationCode(ctx, code2))
	w.want(decorate.DeleteAuthorizationCode, D, s.DeleteAuthorizationCode(ctx, code2.Code))
	w.want(decorate.DeleteAuthorizationCode, decorate.NotFound, s.DeleteAuthorizationCode(ctx, code2.Code))
	code3 := w.newCode(c1.ClientID, g3)
	w.want(decorate.CreateAuthorizationCode, D, s.CreateAuthorizationCode(ctx, code3))
	invalidCode := w.newCode(c1.ClientID, "")
	invalidCode.ExpiresIn = 0
	w.want(decorate.CreateAuthorizationCode, decorate.Invalid, s.CreateAuthorizationCode(ctx, invalidCode))

	// Tokens.
	g4, g7 := w.grant(), w.grant()
	t1 := w.newToken(c1.ClientID, g4, true)
	w.want(decorate.CreateToken, D, s.CreateToken(ctx, t1))
	w.want(decorate.CreateToken, decorate.AlreadyExists, s.CreateToken(ctx, t1))
	_, err = s.GetTokenByAccess(ctx, t1.AccessToken)
	w.want(decorate.GetTokenByAccess, D, err)
	_, err = s.GetTokenByRefresh(ctx, t1.RefreshToken)
	w.want(decorate.GetTokenByRefresh, D, err)
	t2 := w.newToken(c1.ClientID, "", true)
	w.want(decorate.RotateToken, D, s.RotateToken(ctx, t1.RefreshToken, t2))
	t3 := w.newToken(c1.ClientID, "", true)
	w.want(decorate.RotateToken, decorate.Revoked, s.RotateToken(ctx, t1.RefreshToken, t3)) // reuse: grant revoked
	_, err = s.GetTokenByAccess(ctx, t2.AccessToken)
	w.want(decorate.GetTokenByAccess, decorate.Revoked, err)
	_, err = s.GetTokenByRefresh(ctx, t2.RefreshToken)
	w.want(decorate.GetTokenByRefresh, decorate.Revoked, err)
	w.want(decorate.RotateToken, decorate.NotFound, s.RotateToken(ctx, w.cred("unknown refresh token"), w.newToken(c1.ClientID, "", true)))
	t4 := w.newToken(c2.ClientID, "", true) // a grant ID the store generates
	w.want(decorate.CreateToken, D, s.CreateToken(ctx, t4))
	read, err := s.GetTokenByAccess(ctx, t4.AccessToken)
	w.want(decorate.GetTokenByAccess, D, err)
	w.r.Secrets = append(w.r.Secrets, Secret{Kind: "generated grant ID", Value: read.GrantID})
	w.want(decorate.RevokeToken, D, s.RevokeToken(ctx, t4.AccessToken))
	w.want(decorate.RevokeToken, decorate.NotFound, s.RevokeToken(ctx, w.cred("unknown token")))
	t6 := w.newToken(c2.ClientID, "", true)
	t6.Revoked = true
	w.want(decorate.CreateToken, decorate.Invalid, s.CreateToken(ctx, t6))
	t7 := w.newToken(c3.ClientID, g7, true)
	w.want(decorate.CreateToken, D, s.CreateToken(ctx, t7))
	w.want(decorate.RevokeGrant, D, s.RevokeGrant(ctx, g7))
	w.want(decorate.RevokeGrant, decorate.NotFound, s.RevokeGrant(ctx, w.grant()))
	t8 := w.newToken(c1.ClientID, "", false)
	t8.ExpiresIn = time.Minute
	w.want(decorate.CreateToken, D, s.CreateToken(ctx, t8))
	t9 := w.newToken(c2.ClientID, "", true)
	t9.RefreshTokenExpiresIn = time.Minute
	w.want(decorate.CreateToken, D, s.CreateToken(ctx, t9))

	// Expiry.
	clock.Advance(2 * time.Minute)
	_, err = s.ConsumeAuthorizationCode(ctx, code3.Code)
	w.want(decorate.ConsumeAuthorizationCode, decorate.Expired, err)
	_, err = s.GetTokenByAccess(ctx, t8.AccessToken)
	w.want(decorate.GetTokenByAccess, decorate.Expired, err)
	_, err = s.GetTokenByRefresh(ctx, t9.RefreshToken)
	w.want(decorate.GetTokenByRefresh, decorate.Expired, err)
	w.want(decorate.RotateToken, decorate.Expired, s.RotateToken(ctx, t9.RefreshToken, w.newToken(c2.ClientID, "", true)))

	// Context errors, with live credentials.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.GetTokenByAccess(canceled, t7.AccessToken)
	w.want(decorate.GetTokenByAccess, decorate.Canceled, err)
	w.want(decorate.RotateToken, decorate.Canceled, s.RotateToken(canceled, t7.RefreshToken, w.newToken(c3.ClientID, "", true)))
	expired, cancel := context.WithDeadline(ctx, time.Unix(0, 0))
	defer cancel()
	_, err = s.AuthenticateClient(expired, c1.ClientID, rotated)
	w.want(decorate.AuthenticateClient, decorate.DeadlineExceeded, err)
	w.want(decorate.CreateAuthorizationCode, decorate.DeadlineExceeded, s.CreateAuthorizationCode(expired, w.newCode(c1.ClientID, "")))

	// Revocation by client, stats, purge, deletion.
	w.want(decorate.RevokeClientTokens, D, m.RevokeClientTokens(ctx, c2.ClientID))
	w.want(decorate.RevokeClientTokens, decorate.NotFound, m.RevokeClientTokens(ctx, "no-such-client"))
	_, err = sr.Stats(ctx)
	w.want(decorate.Stats, D, err)
	clock.Advance(48 * time.Hour)
	n, err := s.PurgeExpired(ctx)
	w.want(decorate.PurgeExpired, D, err)
	if n == 0 {
		t.Fatalf("workload: PurgeExpired deleted nothing")
	}
	w.r.Purged += n
	w.want(decorate.DeleteClient, D, s.DeleteClient(ctx, c3.ClientID))
	w.want(decorate.DeleteClient, decorate.NotFound, s.DeleteClient(ctx, c3.ClientID))

	for m := range decorate.Method(decorate.NumMethods) {
		if len(w.r.Calls[m]) == 0 {
			t.Fatalf("workload: no call of %s", m)
		}
	}
	return w.r
}

// String summarises the calls, for failure messages.
func (r *Result) String() string {
	var b strings.Builder
	for m := range decorate.Method(decorate.NumMethods) {
		for o := range decorate.Outcome(decorate.NumOutcomes) {
			if n := r.Calls[m][o]; n > 0 {
				fmt.Fprintf(&b, "%s/%s=%d ", m, o, n)
			}
		}
	}
	return b.String()
}
