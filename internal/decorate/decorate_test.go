package decorate_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/internal/decorate/decoratetest"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// pass is the smallest decorator: it forwards everything through the
// package's helpers.
type pass struct {
	storage.Storage
}

func newPass(inner storage.Storage) storage.Storage {
	return decorate.Wrap(inner, pass{inner})
}

func (p pass) Close() error { return decorate.ForwardClose(p.Storage) }
func (p pass) Stats(ctx context.Context) (*storage.Stats, error) {
	return decorate.ForwardStats(ctx, p.Storage)
}

func (p pass) DumpRaw(ctx context.Context) ([]byte, error) {
	return decorate.ForwardDumpRaw(ctx, p.Storage)
}

func (p pass) CredentialDigest(c string) string {
	return decorate.ForwardCredentialDigest(p.Storage, c)
}

func TestWrapKeepsOptionalInterfaces(t *testing.T) {
	decoratetest.CheckOptional(t, newPass)
}

func TestOnlyCombinations(t *testing.T) {
	f := &decoratetest.Fake{}
	seen := map[string]bool{}
	for o := range decorate.AllOptional + 1 {
		s := decorate.Only(f, o)
		if got := decorate.OptionalOf(s); got != o {
			t.Errorf("Only(%04b) implements %04b", o, got)
		}
		seen[fmt.Sprintf("%T", s)] = true
	}
	if len(seen) != 16 {
		t.Errorf("Only returned %d types for 16 combinations", len(seen))
	}
	if got := decorate.OptionalOf(decorate.Only(f, 0xff)); got != decorate.AllOptional {
		t.Errorf("Only(0xff) implements %04b, want every optional interface", got)
	}
}

// A store without any optional interface.
type bare struct{ storage.Storage }

func TestFallbacks(t *testing.T) {
	ctx := context.Background()
	s := bare{memstore.New()}
	d := newPass(s)
	if decorate.OptionalOf(d) != 0 {
		t.Fatalf("a decorated bare store implements %04b", decorate.OptionalOf(d))
	}
	if err := decorate.ForwardClose(s); err != nil {
		t.Errorf("ForwardClose of a store without Close: %v", err)
	}
	if _, err := decorate.ForwardStats(ctx, s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ForwardStats of a store without Stats: %v", err)
	}
	if _, err := decorate.ForwardDumpRaw(ctx, s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ForwardDumpRaw of a store without DumpRaw: %v", err)
	}
	if got := decorate.ForwardCredentialDigest(s, "x"); got != secret.Digest("x") {
		t.Errorf("ForwardCredentialDigest of a store without CredentialDigest: %q", got)
	}
	if _, ok := decorate.Manager(memstore.New()).(*memstore.Store); !ok {
		t.Errorf("Manager of a memstore is not the memstore")
	}
}

func TestOutcomeOf(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		err  error
		want decorate.Outcome
		name string
	}{
		{nil, decorate.OK, "ok"},
		{storage.ErrNotFound, decorate.NotFound, "not_found"},
		{fmt.Errorf("get: %w", storage.ErrNotFound), decorate.NotFound, "not_found"},
		{fmt.Errorf("x: %w", storage.ErrAlreadyExists), decorate.AlreadyExists, "already_exists"},
		{fmt.Errorf("x: %w", storage.ErrExpired), decorate.Expired, "expired"},
		{fmt.Errorf("x: %w", storage.ErrRevoked), decorate.Revoked, "revoked"},
		{fmt.Errorf("x: %w", storage.ErrAlreadyUsed), decorate.AlreadyUsed, "already_used"},
		{fmt.Errorf("x: %w", storage.ErrInvalid), decorate.Invalid, "invalid"},
		{fmt.Errorf("x: %w", storage.ErrInvalidSecret), decorate.InvalidSecret, "invalid_secret"},
		{fmt.Errorf("x: %w", ctx.Err()), decorate.Canceled, "canceled"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), decorate.DeadlineExceeded, "deadline_exceeded"},
		{fmt.Errorf("x: %w", errors.ErrUnsupported), decorate.Unsupported, "unsupported"},
		{errors.New("disk on fire"), decorate.Error, "error"},
		// A store error wrapping ctx.Err() is a context outcome, whatever
		// else it wraps.
		{errors.Join(storage.ErrNotFound, context.Canceled), decorate.Canceled, "canceled"},
	} {
		got := decorate.OutcomeOf(c.err)
		if got != c.want || got.String() != c.name {
			t.Errorf("OutcomeOf(%v) = %s (%d), want %s", c.err, got, got, c.name)
		}
	}
	if s := decorate.Outcome(200).String(); s != "Outcome(200)" {
		t.Errorf("Outcome(200).String() = %q", s)
	}
}

func TestOutcomeClasses(t *testing.T) {
	expected := map[decorate.Outcome]bool{
		decorate.NotFound: true, decorate.AlreadyExists: true, decorate.Expired: true, decorate.Revoked: true,
		decorate.AlreadyUsed: true, decorate.Invalid: true, decorate.InvalidSecret: true, decorate.Canceled: true,
	}
	for o := range decorate.Outcome(decorate.NumOutcomes) {
		if o.Expected() != expected[o] {
			t.Errorf("%s.Expected() = %t", o, o.Expected())
		}
		for m := range decorate.Method(decorate.NumMethods) {
			want := (m == decorate.ConsumeAuthorizationCode && o == decorate.AlreadyUsed) ||
				(m == decorate.RotateToken && o == decorate.Revoked)
			if decorate.Conflict(m, o) != want {
				t.Errorf("Conflict(%s, %s) = %t", m, o, !want)
			}
		}
	}
}

func TestMethodNames(t *testing.T) {
	calls := decoratetest.Calls()
	if len(calls) != decorate.NumMethods {
		t.Fatalf("%d calls for %d methods", len(calls), decorate.NumMethods)
	}
	for i, c := range calls {
		if c.Method != decorate.Method(i) {
			t.Errorf("call %d is of %s", i, c.Method)
		}
		if c.Method.SpanName() != "oauthstore."+c.Method.String() {
			t.Errorf("SpanName of %s = %q", c.Method, c.Method.SpanName())
		}
	}
	if decorate.GetTokenByAccess.String() != "GetTokenByAccess" || decorate.Stats.String() != "Stats" {
		t.Errorf("method names: %s, %s", decorate.GetTokenByAccess, decorate.Stats)
	}
}

func TestErrorType(t *testing.T) {
	op := &net.OpError{Op: "dial", Err: errors.New("refused")}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("query: %w", op), "*errors.errorString"}, // OpError unwraps to its Err
		{fmt.Errorf("query: %w", &net.DNSError{Err: "x"}), "*net.DNSError"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", storage.ErrNotFound)), "*errors.errorString"},
		{errors.Join(errors.New("a"), &net.DNSError{}), "*errors.joinError"},
		{&time.ParseError{}, "*time.ParseError"},
	} {
		if got := decorate.ErrorType(c.err); got != c.want {
			t.Errorf("ErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
