package conformance

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

var codeTests = []testCase{
	{"CreateGet", testCodeCreateGet},
	{"CreateMinimal", testCodeCreateMinimal},
	{"CreateDuplicate", testCodeCreateDuplicate},
	{"CreateInvalid", testCodeCreateInvalid},
	{"Unknown", testCodeUnknown},
	{"LookupExact", testCodeLookupExact},
	{"ClientNotStored", testCodeClientNotStored},
	{"Consume", testCodeConsume},
	{"ConsumeThenExpire", testCodeConsumeThenExpire},
	{"Expired", testCodeExpired},
	{"ExpiryBoundary", testCodeExpiryBoundary},
	{"ExpirySubMillisecond", testCodeExpirySubMillisecond},
	{"Delete", testCodeDelete},
	{"ConsumeConcurrent", testCodeConsumeConcurrent},
}

// Every field round-trips; AuthTime and ExpiresIn come back truncated to
// the millisecond, in UTC, whatever the location and precision given.
func testCodeCreateGet(h *harness) {
	c := h.newCode(h.id("client"))
	loc := time.FixedZone("UTC+05:30", 5*3600+1800)
	c.AuthTime = h.now().Add(-2*time.Minute + 456_789*time.Nanosecond).In(loc)
	c.ExpiresIn = 10*time.Minute + 789*time.Microsecond
	h.createCode(c)
	want := storedCode(c)
	h.expectCode(c)
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.checkCode("ConsumeAuthorizationCode", got, want)
}

// A code with only the required fields, and a plain PKCE challenge with an
// empty method, round-trip.
func testCodeCreateMinimal(h *harness) {
	minimal := &models.AuthorizationCode{
		Code:      h.secret("authorization code"),
		ClientID:  h.id("client"),
		AuthTime:  h.now(),
		ExpiresIn: time.Millisecond,
	}
	h.createCode(minimal)
	h.expectCode(minimal)

	plain := h.newCode(h.id("client"))
	plain.CodeChallenge = h.randString(50)
	plain.CodeChallengeMethod = ""
	h.createCode(plain)
	h.expectCode(plain)
}

// A stored code, used or not, cannot be stored again, and the stored one is
// unchanged.
func testCodeCreateDuplicate(h *harness) {
	orig := h.newCode(h.id("client"))
	h.createCode(orig)
	dup := h.newCode(h.id("client"))
	dup.Code = orig.Code
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, dup), storage.ErrAlreadyExists, "CreateAuthorizationCode of a stored code")
	h.expectCode(orig)

	used := h.newCode(h.id("client"))
	h.createCode(used)
	_, err := h.s.ConsumeAuthorizationCode(h.ctx, used.Code)
	h.must(err, "ConsumeAuthorizationCode")
	again := h.newCode(used.ClientID)
	again.Code = used.Code
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, again), storage.ErrAlreadyExists, "CreateAuthorizationCode of a consumed code")
	h.codeErr(used.Code, storage.ErrAlreadyUsed, "of a consumed code after it was offered again")
}

// Malformed codes are ErrInvalid and nothing is written.
func testCodeCreateInvalid(h *harness) {
	cases := []struct {
		name   string
		mutate func(c *models.AuthorizationCode)
	}{
		{"empty client ID", func(c *models.AuthorizationCode) { c.ClientID = "" }},
		{"zero AuthTime", func(c *models.AuthorizationCode) { c.AuthTime = time.Time{} }},
		{"zero lifetime", func(c *models.AuthorizationCode) { c.ExpiresIn = 0 }},
		{"negative lifetime", func(c *models.AuthorizationCode) { c.ExpiresIn = -time.Minute }},
		{"lifetime under a millisecond", func(c *models.AuthorizationCode) { c.ExpiresIn = 999 * time.Microsecond }},
		{"unknown PKCE method", func(c *models.AuthorizationCode) { c.CodeChallengeMethod = "S512" }},
	}
	for _, tc := range cases {
		c := h.newCode(h.id("client"))
		tc.mutate(c)
		h.wantErr(h.s.CreateAuthorizationCode(h.ctx, c), storage.ErrInvalid, "CreateAuthorizationCode with %s", tc.name)
		h.codeErr(c.Code, storage.ErrNotFound, "after CreateAuthorizationCode with "+tc.name)
	}
	empty := h.newCode(h.id("client"))
	empty.Code = ""
	h.wantErr(h.s.CreateAuthorizationCode(h.ctx, empty), storage.ErrInvalid, "CreateAuthorizationCode with an empty code")
	h.codeErr("", storage.ErrNotFound, "of the empty code after CreateAuthorizationCode with an empty code")
}

// An unknown code is ErrNotFound for every code method.
func testCodeUnknown(h *harness) {
	h.createCode(h.newCode(h.id("client")))
	for _, code := range []string{h.secret("authorization code"), ""} {
		h.codeErr(code, storage.ErrNotFound, "of an unknown code")
		h.consumeErr(code, storage.ErrNotFound, "of an unknown code")
		h.wantErr(h.s.DeleteAuthorizationCode(h.ctx, code), storage.ErrNotFound, "DeleteAuthorizationCode of an unknown code")
	}
}

// Codes match exactly: near misses of a stored code are unknown.
func testCodeLookupExact(h *harness) {
	c := h.newCode(h.id("client"))
	h.createCode(c)
	for _, near := range []string{
		c.Code[:len(c.Code)-1], c.Code + "x", strings.ToUpper(c.Code), strings.ToLower(c.Code), " " + c.Code, c.Code + " ",
	} {
		h.codeErr(near, storage.ErrNotFound, "of a near miss of a stored code")
		h.consumeErr(near, storage.ErrNotFound, "of a near miss of a stored code")
	}
	h.expectCode(c)
}

// Codes do not need their client in the same store.
func testCodeClientNotStored(h *harness) {
	stored := h.newClient(true)
	h.createClient(stored)
	for _, clientID := range []string{h.id("client"), stored.ClientID} {
		c := h.newCode(clientID)
		h.createCode(c)
		h.expectCode(c)
		got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
		h.must(err, "ConsumeAuthorizationCode(code of client %q)", clientID)
		h.checkCode("ConsumeAuthorizationCode", got, storedCode(c))
	}
}

// A code is consumed once; later Consume and Get calls are ErrAlreadyUsed.
func testCodeConsume(h *harness) {
	c := h.newCode(h.id("client"))
	h.createCode(c)
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.checkCode("ConsumeAuthorizationCode", got, storedCode(c))
	for range 2 {
		h.consumeErr(c.Code, storage.ErrAlreadyUsed, "of a consumed code")
		h.codeErr(c.Code, storage.ErrAlreadyUsed, "of a consumed code")
	}
}

// A consumed code stays ErrAlreadyUsed after it expires, until it is
// purged.
func testCodeConsumeThenExpire(h *harness) {
	c := h.newCode(h.id("client"))
	h.createCode(c)
	_, err := h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.setClock(c.ExpiresAt().Add(time.Hour))
	h.codeErr(c.Code, storage.ErrAlreadyUsed, "of a consumed code that has expired since")
	h.consumeErr(c.Code, storage.ErrAlreadyUsed, "of a consumed code that has expired since")
	h.purge(1, "with one consumed, expired code")
	h.codeErr(c.Code, storage.ErrNotFound, "of a consumed code after it was purged")
	h.consumeErr(c.Code, storage.ErrNotFound, "of a consumed code after it was purged")
}

// An expired code is ErrExpired, is not consumed by Consume, and is
// ErrNotFound once purged.
func testCodeExpired(h *harness) {
	c := h.newCode(h.id("client"))
	h.createCode(c)
	h.setClock(c.ExpiresAt().Add(time.Minute))
	h.consumeErr(c.Code, storage.ErrExpired, "of an expired code")
	h.codeErr(c.Code, storage.ErrExpired, "of an expired code after an attempt to consume it")
	h.consumeErr(c.Code, storage.ErrExpired, "of an expired code, a second time")
	h.purge(1, "with one expired code")
	h.codeErr(c.Code, storage.ErrNotFound, "of an expired code after it was purged")
	h.consumeErr(c.Code, storage.ErrNotFound, "of an expired code after it was purged")
}

// A code is valid at the exact instant it expires and expired one
// millisecond after; expiry is judged on the truncated AuthTime and
// lifetime.
func testCodeExpiryBoundary(h *harness) {
	clientID := h.id("client")
	a, b := h.newCode(clientID), h.newCode(clientID)
	h.createCode(a)
	h.createCode(b)
	sub := h.newCode(clientID)
	sub.AuthTime = h.now().Add(900 * time.Microsecond)
	sub.ExpiresIn = 10*time.Minute + 900*time.Microsecond
	h.createCode(sub)
	expiry := h.now().Add(10 * time.Minute)

	h.setClock(expiry)
	h.expectCode(a)
	h.expectCode(b)
	h.expectCode(sub)
	got, err := h.s.ConsumeAuthorizationCode(h.ctx, a.Code)
	h.must(err, "ConsumeAuthorizationCode at the instant the code expires")
	h.checkCode("ConsumeAuthorizationCode at the instant the code expires", got, storedCode(a))

	h.setClock(expiry.Add(time.Millisecond))
	h.codeErr(b.Code, storage.ErrExpired, "one millisecond after the code expired")
	h.consumeErr(b.Code, storage.ErrExpired, "one millisecond after the code expired")
	h.codeErr(sub.Code, storage.ErrExpired, "one millisecond after the truncated expiry of a code given sub-millisecond times")
	h.codeErr(a.Code, storage.ErrAlreadyUsed, "of a code consumed at its expiry, one millisecond later")
}

// A code is expired a microsecond after it expires, by every method and
// by purge: a store that truncates its clock to the millisecond would keep
// it alive for up to a millisecond longer.
func testCodeExpirySubMillisecond(h *harness) {
	clientID := h.id("client")
	a, b := h.newCode(clientID), h.newCode(clientID)
	h.createCode(a)
	h.createCode(b)
	h.setClock(a.ExpiresAt().Add(time.Microsecond))
	h.codeErr(a.Code, storage.ErrExpired, "one microsecond after the code expired")
	h.consumeErr(b.Code, storage.ErrExpired, "one microsecond after the code expired")
	h.purge(2, "one microsecond after two codes expired")
}

// DeleteAuthorizationCode deletes a code, used, expired or not; a deleted
// code is unknown and can be stored again.
func testCodeDelete(h *harness) {
	clientID := h.id("client")
	fresh, used, expired, keep := h.newCode(clientID), h.newCode(clientID), h.newCode(clientID), h.newCode(clientID)
	expired.ExpiresIn = time.Second
	for _, c := range []*models.AuthorizationCode{fresh, used, expired, keep} {
		h.createCode(c)
	}
	_, err := h.s.ConsumeAuthorizationCode(h.ctx, used.Code)
	h.must(err, "ConsumeAuthorizationCode")
	h.advance(time.Minute)
	for _, c := range []struct {
		name string
		code *models.AuthorizationCode
	}{{"an unused code", fresh}, {"a consumed code", used}, {"an expired code", expired}} {
		h.must(h.s.DeleteAuthorizationCode(h.ctx, c.code.Code), "DeleteAuthorizationCode of %s", c.name)
		h.codeErr(c.code.Code, storage.ErrNotFound, "of "+c.name+" after it was deleted")
		h.consumeErr(c.code.Code, storage.ErrNotFound, "of "+c.name+" after it was deleted")
		h.wantErr(h.s.DeleteAuthorizationCode(h.ctx, c.code.Code), storage.ErrNotFound, "DeleteAuthorizationCode of %s again", c.name)
	}
	h.expectCode(keep)
	again := h.newCode(h.id("client"))
	again.Code = used.Code
	h.createCode(again)
	h.expectCode(again)
}

// Of concurrent consumers of one code exactly one wins and every other gets
// ErrAlreadyUsed.
func testCodeConsumeConcurrent(h *harness) {
	const codes, callers = 8, 32
	for round := range codes {
		c := h.newCode(h.id("client"))
		h.createCode(c)
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]*models.AuthorizationCode, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				<-start
				results[i], errs[i] = h.s.ConsumeAuthorizationCode(h.ctx, c.Code)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				h.checkCode("ConsumeAuthorizationCode (concurrent winner)", results[i], storedCode(c))
			case !errors.Is(err, storage.ErrAlreadyUsed):
				h.t.Errorf("round %d: concurrent ConsumeAuthorizationCode: got error %q, want one matching storage.ErrAlreadyUsed", round, h.errString(err))
			default:
				h.noLeak(err, "concurrent ConsumeAuthorizationCode")
			}
		}
		if winners != 1 {
			h.t.Errorf("round %d: %d of %d concurrent ConsumeAuthorizationCode calls succeeded, want exactly 1", round, winners, callers)
		}
		h.consumeErr(c.Code, storage.ErrAlreadyUsed, "after the concurrent consumers")
	}
}
