package conformance

import (
	"context"
	"path"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Every method, given a context that is already done, returns an error
// wrapping ctx.Err() and writes nothing.
var contextTests = []testCase{
	{"CreateClient", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		c := h.newClient(true)
		return func() { h.clientErr(c.ClientID, storage.ErrNotFound, "after CreateClient with a done context") }, h.s.CreateClient(ctx, c)
	})},
	{"GetClient", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.GetClient(ctx, f.client.ClientID)
		return nil, err
	})},
	{"AuthenticateClient", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.AuthenticateClient(ctx, f.client.ClientID, f.client.ClientSecret)
		return nil, err
	})},
	{"DeleteClient", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		return f.expectUntouched, h.s.DeleteClient(ctx, f.client.ClientID)
	})},
	{"CreateAuthorizationCode", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		c := h.newCode(f.client.ClientID)
		return func() {
			h.codeErr(c.Code, storage.ErrNotFound, "after CreateAuthorizationCode with a done context")
		}, h.s.CreateAuthorizationCode(ctx, c)
	})},
	{"GetAuthorizationCode", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.GetAuthorizationCode(ctx, f.code.Code)
		return nil, err
	})},
	{"ConsumeAuthorizationCode", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.ConsumeAuthorizationCode(ctx, f.code.Code)
		return f.expectUntouched, err
	})},
	{"DeleteAuthorizationCode", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		return f.expectUntouched, h.s.DeleteAuthorizationCode(ctx, f.code.Code)
	})},
	{"CreateToken", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		tok := h.newToken(f.client.ClientID, true)
		return func() {
			h.accessErr(tok.AccessToken, storage.ErrNotFound, "after CreateToken with a done context")
			h.refreshErr(tok.RefreshToken, storage.ErrNotFound, "after CreateToken with a done context")
		}, h.s.CreateToken(ctx, tok)
	})},
	{"GetTokenByAccess", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.GetTokenByAccess(ctx, f.token.AccessToken)
		return nil, err
	})},
	{"GetTokenByRefresh", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.GetTokenByRefresh(ctx, f.token.RefreshToken)
		return nil, err
	})},
	{"RevokeToken", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		return f.expectUntouched, h.s.RevokeToken(ctx, f.token.RefreshToken)
	})},
	{"RotateToken", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		next := h.successor(f.token)
		return func() { h.notWritten(next, "with a done context") }, h.s.RotateToken(ctx, f.token.RefreshToken, next)
	})},
	{"RevokeGrant", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		return f.expectUntouched, h.s.RevokeGrant(ctx, h.grantOf(f.token))
	})},
	{"PurgeExpired", ctxCase(func(h *harness, f *ctxFixture, ctx context.Context) (func(), error) {
		_, err := h.s.PurgeExpired(ctx)
		return f.expectUntouched, err
	})},
}

// ctxFixture is what the Context cases start from: a confidential client
// with a live code and token, and an expired code and token for
// PurgeExpired to find.
type ctxFixture struct {
	h            *harness
	client       *models.Client
	code         *models.AuthorizationCode
	token        *models.Token
	expiredCode  *models.AuthorizationCode
	expiredToken *models.Token
}

func newCtxFixture(h *harness) *ctxFixture {
	f := &ctxFixture{h: h, client: h.newClient(true)}
	h.createClient(f.client)
	f.code = h.newCode(f.client.ClientID)
	f.token = h.newToken(f.client.ClientID, true)
	f.expiredCode = h.newCode(f.client.ClientID)
	f.expiredCode.ExpiresIn = time.Second
	f.expiredToken = h.newToken(f.client.ClientID, false)
	f.expiredToken.ExpiresIn = time.Second
	h.createCode(f.code)
	h.createToken(f.token)
	h.createCode(f.expiredCode)
	h.createToken(f.expiredToken)
	h.advance(time.Minute)
	return f
}

// expectUntouched checks that the fixture is as it was created.
func (f *ctxFixture) expectUntouched() {
	h := f.h
	h.t.Helper()
	h.expectClient(f.client)
	h.expectCode(f.code)
	h.expectAccess(f.token)
	h.expectRefresh(f.token)
	h.codeErr(f.expiredCode.Code, storage.ErrExpired, "of an expired code that must not have been purged")
	h.accessErr(f.expiredToken.AccessToken, storage.ErrExpired, "of an expired token that must not have been purged")
}

// ctxCase makes a Context case: call runs the method with a done context
// and returns a check that nothing was written (nil for reads) and its
// error. It is tried with a cancelled context and with one past its
// deadline, and the fixture must still work with a live context after.
func ctxCase(call func(h *harness, f *ctxFixture, ctx context.Context) (func(), error)) func(h *harness) {
	return func(h *harness) {
		f := newCtxFixture(h)
		cancelled, cancel := context.WithCancel(h.ctx)
		cancel()
		expired, cancel2 := context.WithDeadline(h.ctx, time.Unix(0, 0))
		defer cancel2()
		for _, c := range []struct {
			name string
			ctx  context.Context
			want error
		}{
			{"a cancelled context", cancelled, context.Canceled},
			{"a context past its deadline", expired, context.DeadlineExceeded},
		} {
			check, err := call(h, f, c.ctx)
			h.wantErr(err, c.want, "%s with %s", path.Base(h.t.Name()), c.name)
			if check != nil {
				check()
			}
			if h.t.Failed() {
				// What follows would only repeat this failure.
				h.t.FailNow()
			}
		}
		f.expectUntouched()
	}
}
