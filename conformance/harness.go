package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// fakeClock is the clock every store under test reads. Only the suite moves
// it; it is safe to read from any goroutine.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := new(fakeClock)
	c.set(t)
	return c
}

// now is the func() time.Time handed to NewStore.
func (c *fakeClock) now() time.Time        { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time)       { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) add(d time.Duration)   { c.ns.Add(int64(d)) }
func (c *fakeClock) String() string        { return c.now().Format(time.RFC3339Nano) }
func (h *harness) now() time.Time          { return h.clock.now() }
func (h *harness) setClock(t time.Time)    { h.clock.set(t) }
func (h *harness) advance(d time.Duration) { h.clock.add(d) }

// credential is a secret value the suite generated: a client secret, code,
// access token or refresh token. No error or log line may contain one.
type credential struct{ kind, value string }

// harness is the state of one subtest: a fresh store, its clock, a seeded
// source of values and the credentials generated so far.
type harness struct {
	t     *testing.T
	s     storage.Storage
	clock *fakeClock
	rng   *rand.Rand
	ctx   context.Context
	creds []credential
	// keys are the digest keys of a keyed store (RunKeyed); nil otherwise.
	keys *secret.Keyed
}

// newHarness returns the harness of one subtest; setup, if any, runs
// before newStore is called.
func newHarness(t *testing.T, newStore NewStore, seed uint64, setup ...func(h *harness)) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		clock: newFakeClock(start),
		rng:   rand.New(rand.NewPCG(seed, 0x6f61757468)),
		ctx:   t.Context(),
	}
	for _, f := range setup {
		f(h)
	}
	h.s = newStore(t, h.clock.now)
	if h.s == nil {
		t.Fatal("NewStore returned a nil store")
	}
	return h
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// randString returns n random characters of the URL-safe base64 alphabet.
func (h *harness) randString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[h.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// id returns a random identifier that is not a secret (client ID, user ID).
func (h *harness) id(prefix string) string { return prefix + "-" + h.randString(12) }

// secret returns a new random credential of the given kind, distinctive
// enough that finding it in an error or a raw dump means it leaked, and
// records it.
func (h *harness) secret(kind string) string {
	v := strings.ReplaceAll(kind, " ", "") + "." + h.randString(40)
	h.creds = append(h.creds, credential{kind, v})
	return v
}

// redact replaces every generated credential in s, so that failure
// messages never print one.
func (h *harness) redact(s string) string {
	for _, c := range h.creds {
		s = strings.ReplaceAll(s, c.value, "<"+c.kind+">")
	}
	return s
}

// leaks returns the kinds of the generated credentials s contains.
func (h *harness) leaks(s string) []string {
	var kinds []string
	for _, c := range h.creds {
		if strings.Contains(s, c.value) && !slices.Contains(kinds, c.kind) {
			kinds = append(kinds, c.kind)
		}
	}
	return kinds
}

// errString is err's message with credentials redacted.
func (h *harness) errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return h.redact(err.Error())
}

// must stops the subtest if err is not nil.
func (h *harness) must(err error, format string, args ...any) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: unexpected error: %s", fmt.Sprintf(format, args...), h.errString(err))
	}
}

// noLeak reports an error whose message contains a generated credential.
func (h *harness) noLeak(err error, format string, args ...any) {
	h.t.Helper()
	if err == nil {
		return
	}
	if kinds := h.leaks(err.Error()); len(kinds) > 0 {
		h.t.Errorf("%s: error message contains a %s (errors must never contain credentials): %s",
			fmt.Sprintf(format, args...), strings.Join(kinds, ", "), h.errString(err))
	}
}

// sentinelName names the sentinel errors in messages.
func sentinelName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{storage.ErrNotFound, "storage.ErrNotFound"},
		{storage.ErrAlreadyExists, "storage.ErrAlreadyExists"},
		{storage.ErrExpired, "storage.ErrExpired"},
		{storage.ErrRevoked, "storage.ErrRevoked"},
		{storage.ErrAlreadyUsed, "storage.ErrAlreadyUsed"},
		{storage.ErrInvalid, "storage.ErrInvalid"},
		{storage.ErrInvalidSecret, "storage.ErrInvalidSecret"},
		{context.Canceled, "context.Canceled"},
		{context.DeadlineExceeded, "context.DeadlineExceeded"},
	} {
		if s.err == err {
			return s.name
		}
	}
	return err.Error()
}

// wantErr reports, without stopping the subtest, unless err matches want
// with errors.Is and contains no credential. It returns whether err matched.
func (h *harness) wantErr(err, want error, format string, args ...any) bool {
	h.t.Helper()
	what := fmt.Sprintf(format, args...)
	switch {
	case err == nil:
		h.t.Errorf("%s: got no error, want %s", what, sentinelName(want))
		return false
	case !errors.Is(err, want):
		h.t.Errorf("%s: got error %q, want one matching %s", what, h.errString(err), sentinelName(want))
		return false
	}
	h.noLeak(err, "%s", what)
	return true
}

// createClient stores c and stops the subtest on error.
func (h *harness) createClient(c *models.Client) {
	h.t.Helper()
	h.must(h.s.CreateClient(h.ctx, c), "CreateClient(%q)", c.ClientID)
}

// createCode stores c and stops the subtest on error.
func (h *harness) createCode(c *models.AuthorizationCode) {
	h.t.Helper()
	h.must(h.s.CreateAuthorizationCode(h.ctx, c), "CreateAuthorizationCode(code of client %q)", c.ClientID)
}

// createToken stores tok and stops the subtest on error.
func (h *harness) createToken(tok *models.Token) {
	h.t.Helper()
	h.must(h.s.CreateToken(h.ctx, tok), "CreateToken(token of client %q)", tok.ClientID)
}

// newClient returns a client with every field set, a random subset of grant
// and response types in random order, and a secret if confidential.
func (h *harness) newClient(confidential bool) *models.Client {
	grants := []models.GrantType{models.GrantAuthorizationCode, models.GrantPassword,
		models.GrantClientCredentials, models.GrantRefreshToken}
	responses := []models.ResponseType{models.ResponseTypeCode, models.ResponseTypeToken,
		models.ResponseTypeIDToken, models.ResponseTypeNone}
	h.rng.Shuffle(len(grants), func(i, j int) { grants[i], grants[j] = grants[j], grants[i] })
	h.rng.Shuffle(len(responses), func(i, j int) { responses[i], responses[j] = responses[j], responses[i] })
	host := strings.ToLower(strings.NewReplacer("-", "x", "_", "y").Replace(h.randString(8)))
	c := &models.Client{
		ClientID:      h.id("client"),
		GrantTypes:    grants[:1+h.rng.IntN(len(grants))],
		ResponseTypes: responses[:1+h.rng.IntN(len(responses))],
		RedirectURIs: []string{
			"https://" + host + ".example.com/callback?from=conformance&x=" + h.randString(6),
			"http://127.0.0.1:8080/cb",
			"com.example." + host + ":/oauth2redirect",
		},
		Scope:  "openid profile scope-" + h.randString(6) + " grüße",
		UserID: h.id("user") + "-用户",
	}
	if confidential {
		c.ClientSecret = h.secret("client secret")
	}
	return c
}

// newCode returns an authorization code of clientID with every field set,
// issued now for ten minutes.
func (h *harness) newCode(clientID string) *models.AuthorizationCode {
	verifier := h.randString(43)
	sum := sha256.Sum256([]byte(verifier))
	return &models.AuthorizationCode{
		Code:                h.secret("authorization code"),
		ClientID:            clientID,
		RedirectURI:         "https://app.example.com/cb/" + h.randString(6),
		ResponseType:        "code",
		Scope:               "openid email scope-" + h.randString(6),
		AuthTime:            h.now(),
		ExpiresIn:           10 * time.Minute,
		CodeChallenge:       base64.RawURLEncoding.EncodeToString(sum[:]),
		CodeChallengeMethod: models.CodeChallengeS256,
		Nonce:               h.randString(16),
		UserID:              h.id("user"),
	}
}

// newToken returns a token of clientID with every field set, issued now,
// its access token valid for an hour and, if withRefresh, a refresh token
// valid for a day.
func (h *harness) newToken(clientID string, withRefresh bool) *models.Token {
	tok := &models.Token{
		AccessToken: h.secret("access token"),
		Scope:       "read write scope-" + h.randString(6),
		IssuedAt:    h.now(),
		ExpiresIn:   time.Hour,
		ClientID:    clientID,
		TokenType:   "Bearer",
		UserID:      h.id("user"),
	}
	if withRefresh {
		tok.RefreshToken = h.secret("refresh token")
		tok.RefreshTokenExpiresIn = 24 * time.Hour
	}
	return tok
}

// truncate is the form in which stores return instants.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// storedCode is what a store returns for c.
func storedCode(c *models.AuthorizationCode) *models.AuthorizationCode {
	out := *c
	out.AuthTime = truncate(c.AuthTime)
	out.ExpiresIn = c.ExpiresIn.Truncate(time.Millisecond)
	return &out
}

// storedToken is what a store returns for tok read by its access token, or
// by its refresh token if byRefresh.
func storedToken(tok *models.Token, byRefresh bool) *models.Token {
	out := *tok
	out.IssuedAt = truncate(tok.IssuedAt)
	out.ExpiresIn = tok.ExpiresIn.Truncate(time.Millisecond)
	out.RefreshTokenExpiresIn = tok.RefreshTokenExpiresIn.Truncate(time.Millisecond)
	if out.TokenType == "" {
		out.TokenType = models.DefaultTokenType
	}
	if byRefresh {
		out.AccessToken = ""
	} else {
		out.RefreshToken = ""
	}
	return &out
}

// differ collects the fields in which a record differs from the expected
// one, without printing credentials.
type differ struct{ diffs []string }

func (d *differ) field(name string, got, want any) {
	if !equalField(got, want) {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %#v, want %#v", name, got, want))
	}
}

// credField compares a credential field, printing neither value.
func (d *differ) credField(name, got, want string) {
	switch {
	case got == want:
	case want == "":
		d.diffs = append(d.diffs, fmt.Sprintf("%s is set (%d bytes), want it empty", name, len(got)))
	case got == "":
		d.diffs = append(d.diffs, fmt.Sprintf("%s is empty, want the credential it was created with", name))
	default:
		d.diffs = append(d.diffs, fmt.Sprintf("%s differs from the credential it was created with", name))
	}
}

// instant compares instants and requires got to be in UTC.
func (d *differ) instant(name string, got, want time.Time) {
	if !got.Equal(want) {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %s, want %s (UTC, truncated to the millisecond)",
			name, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano)))
	}
	if loc := got.Location().String(); loc != "UTC" {
		d.diffs = append(d.diffs, fmt.Sprintf("%s is in location %q, want UTC", name, loc))
	}
}

// grantID compares a GrantID: the one the record was created with, or,
// if it was created without one, any well-formed assigned one.
func (d *differ) grantID(got, want string) {
	switch {
	case want != "":
		d.field("GrantID", got, want)
	case !wellFormedGrantID(got):
		d.diffs = append(d.diffs, fmt.Sprintf("GrantID = %q: a record created without a GrantID must get a random one of at least 128 bits in URL-safe characters", got))
	}
}

// wellFormedGrantID reports whether id can be an assigned GrantID: at least
// 22 characters (128 bits in base64url) that are unreserved in URLs
// (RFC 3986 2.3).
func wellFormedGrantID(id string) bool {
	if len(id) < 22 {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

func equalField(got, want any) bool {
	switch g := got.(type) {
	case []models.GrantType:
		return slices.Equal(g, want.([]models.GrantType))
	case []models.ResponseType:
		return slices.Equal(g, want.([]models.ResponseType))
	case []string:
		return slices.Equal(g, want.([]string))
	}
	return got == want
}

func (h *harness) report(what string, d *differ) {
	h.t.Helper()
	if len(d.diffs) > 0 {
		h.t.Errorf("%s: returned record differs from the one stored:\n\t%s", what, h.redact(strings.Join(d.diffs, "\n\t")))
	}
}

// checkClient reports how got, as returned by the store, differs from the
// client in that was created: every field round-trips, except that the
// secret is never returned and SecretHash is set exactly for a
// confidential client.
func (h *harness) checkClient(what string, got, in *models.Client) {
	h.t.Helper()
	if got == nil {
		h.t.Errorf("%s: returned a nil client and no error", what)
		return
	}
	var d differ
	d.field("ClientID", got.ClientID, in.ClientID)
	d.field("GrantTypes", got.GrantTypes, in.GrantTypes)
	d.field("ResponseTypes", got.ResponseTypes, in.ResponseTypes)
	d.field("RedirectURIs", got.RedirectURIs, in.RedirectURIs)
	d.field("Scope", got.Scope, in.Scope)
	d.field("UserID", got.UserID, in.UserID)
	if got.ClientSecret != "" {
		d.diffs = append(d.diffs, "ClientSecret is set: a store never returns the secret")
	}
	switch {
	case in.ClientSecret == "" && got.SecretHash != "":
		d.diffs = append(d.diffs, "SecretHash is set for a public client")
	case in.ClientSecret != "" && got.SecretHash == "":
		d.diffs = append(d.diffs, "SecretHash is empty for a confidential client")
	case in.ClientSecret != "" && strings.Contains(got.SecretHash, in.ClientSecret):
		d.diffs = append(d.diffs, "SecretHash contains the plaintext secret")
	}
	if got.IsPublic() != (in.ClientSecret == "") {
		d.diffs = append(d.diffs, fmt.Sprintf("IsPublic() = %t, want %t", got.IsPublic(), in.ClientSecret == ""))
	}
	h.report(what, &d)
}

// checkCode reports how got differs from want (see storedCode).
func (h *harness) checkCode(what string, got, want *models.AuthorizationCode) {
	h.t.Helper()
	if got == nil {
		h.t.Errorf("%s: returned a nil code and no error", what)
		return
	}
	var d differ
	d.credField("Code", got.Code, want.Code)
	d.field("ClientID", got.ClientID, want.ClientID)
	d.field("RedirectURI", got.RedirectURI, want.RedirectURI)
	d.field("ResponseType", got.ResponseType, want.ResponseType)
	d.field("Scope", got.Scope, want.Scope)
	d.instant("AuthTime", got.AuthTime, want.AuthTime)
	d.field("ExpiresIn", got.ExpiresIn, want.ExpiresIn)
	d.field("CodeChallenge", got.CodeChallenge, want.CodeChallenge)
	d.field("CodeChallengeMethod", got.CodeChallengeMethod, want.CodeChallengeMethod)
	d.field("Nonce", got.Nonce, want.Nonce)
	d.field("UserID", got.UserID, want.UserID)
	d.grantID(got.GrantID, want.GrantID)
	h.report(what, &d)
}

// checkToken reports how got differs from want (see storedToken).
func (h *harness) checkToken(what string, got, want *models.Token) {
	h.t.Helper()
	if got == nil {
		h.t.Errorf("%s: returned a nil token and no error", what)
		return
	}
	var d differ
	d.credField("AccessToken", got.AccessToken, want.AccessToken)
	d.credField("RefreshToken", got.RefreshToken, want.RefreshToken)
	d.field("Scope", got.Scope, want.Scope)
	d.instant("IssuedAt", got.IssuedAt, want.IssuedAt)
	d.field("ExpiresIn", got.ExpiresIn, want.ExpiresIn)
	d.field("RefreshTokenExpiresIn", got.RefreshTokenExpiresIn, want.RefreshTokenExpiresIn)
	d.field("ClientID", got.ClientID, want.ClientID)
	d.field("TokenType", got.TokenType, want.TokenType)
	d.field("Revoked", got.Revoked, want.Revoked)
	d.field("UserID", got.UserID, want.UserID)
	d.grantID(got.GrantID, want.GrantID)
	h.report(what, &d)
}

// Lookups that expect success: they report a mismatch and return whether
// the record was as expected.

func (h *harness) expectClient(c *models.Client) {
	h.t.Helper()
	got, err := h.s.GetClient(h.ctx, c.ClientID)
	if err != nil {
		h.t.Errorf("GetClient(%q): unexpected error: %s", c.ClientID, h.errString(err))
		return
	}
	h.checkClient(fmt.Sprintf("GetClient(%q)", c.ClientID), got, c)
}

func (h *harness) expectCode(c *models.AuthorizationCode) {
	h.t.Helper()
	got, err := h.s.GetAuthorizationCode(h.ctx, c.Code)
	if err != nil {
		h.t.Errorf("GetAuthorizationCode(code of client %q) at %s: unexpected error: %s", c.ClientID, h.clock, h.errString(err))
		return
	}
	h.checkCode(fmt.Sprintf("GetAuthorizationCode(code of client %q)", c.ClientID), got, storedCode(c))
}

func (h *harness) expectAccess(tok *models.Token) {
	h.t.Helper()
	got, err := h.s.GetTokenByAccess(h.ctx, tok.AccessToken)
	if err != nil {
		h.t.Errorf("GetTokenByAccess(token of client %q) at %s: unexpected error: %s", tok.ClientID, h.clock, h.errString(err))
		return
	}
	h.checkToken(fmt.Sprintf("GetTokenByAccess(token of client %q)", tok.ClientID), got, storedToken(tok, false))
}

func (h *harness) expectRefresh(tok *models.Token) {
	h.t.Helper()
	got, err := h.s.GetTokenByRefresh(h.ctx, tok.RefreshToken)
	if err != nil {
		h.t.Errorf("GetTokenByRefresh(token of client %q) at %s: unexpected error: %s", tok.ClientID, h.clock, h.errString(err))
		return
	}
	h.checkToken(fmt.Sprintf("GetTokenByRefresh(token of client %q)", tok.ClientID), got, storedToken(tok, true))
}

// Lookups that expect an error.

func (h *harness) clientErr(clientID string, want error, when string) {
	h.t.Helper()
	_, err := h.s.GetClient(h.ctx, clientID)
	h.wantErr(err, want, "GetClient(%q) %s", clientID, when)
}

func (h *harness) codeErr(code string, want error, when string) {
	h.t.Helper()
	_, err := h.s.GetAuthorizationCode(h.ctx, code)
	h.wantErr(err, want, "GetAuthorizationCode %s (clock %s)", when, h.clock)
}

func (h *harness) consumeErr(code string, want error, when string) {
	h.t.Helper()
	_, err := h.s.ConsumeAuthorizationCode(h.ctx, code)
	h.wantErr(err, want, "ConsumeAuthorizationCode %s (clock %s)", when, h.clock)
}

func (h *harness) accessErr(access string, want error, when string) {
	h.t.Helper()
	_, err := h.s.GetTokenByAccess(h.ctx, access)
	h.wantErr(err, want, "GetTokenByAccess %s (clock %s)", when, h.clock)
}

func (h *harness) refreshErr(refresh string, want error, when string) {
	h.t.Helper()
	_, err := h.s.GetTokenByRefresh(h.ctx, refresh)
	h.wantErr(err, want, "GetTokenByRefresh %s (clock %s)", when, h.clock)
}

// purge runs PurgeExpired and reports unless it deleted want records.
func (h *harness) purge(want int64, when string) {
	h.t.Helper()
	n, err := h.s.PurgeExpired(h.ctx)
	if err != nil {
		h.t.Fatalf("PurgeExpired %s: unexpected error: %s", when, h.errString(err))
	}
	if n != want {
		h.t.Errorf("PurgeExpired %s (clock %s) = %d, want %d", when, h.clock, n, want)
	}
}
