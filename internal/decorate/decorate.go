package decorate

//go:generate go run gen.go

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// RawDumper is the method of conformance.RawDumper, a test hook of a store
// that dumps what it persisted. It is declared here so that production
// code never imports the conformance package.
type RawDumper interface {
	DumpRaw(ctx context.Context) ([]byte, error)
}

// CredentialDigester is the method of conformance.CredentialDigester.
type CredentialDigester interface {
	CredentialDigest(credential string) string
}

// Store is what a decorator implements: the whole contract, the client
// management methods and every optional interface. Pass it to [Wrap] to
// keep only the optional interfaces of the store it decorates.
type Store interface {
	storage.Storage
	storage.ClientManager
	io.Closer
	storage.StatsReporter
	RawDumper
	CredentialDigester
}

// Optional is a set of optional interfaces, one bit each.
type Optional uint8

// The optional interfaces a store may implement.
const (
	HasClose            Optional = 1 << iota // io.Closer
	HasStats                                 // storage.StatsReporter
	HasDumpRaw                               // RawDumper
	HasCredentialDigest                      // CredentialDigester

	// AllOptional is every optional interface.
	AllOptional = HasClose | HasStats | HasDumpRaw | HasCredentialDigest
)

// OptionalOf returns the optional interfaces s implements.
func OptionalOf(s storage.Storage) Optional {
	var o Optional
	if _, ok := s.(io.Closer); ok {
		o |= HasClose
	}
	if _, ok := s.(storage.StatsReporter); ok {
		o |= HasStats
	}
	if _, ok := s.(RawDumper); ok {
		o |= HasDumpRaw
	}
	if _, ok := s.(CredentialDigester); ok {
		o |= HasCredentialDigest
	}
	return o
}

// Wrap returns d as a value that implements [storage.Storage],
// [storage.ClientManager] and, of the optional interfaces, exactly those
// inner implements.
func Wrap(inner storage.Storage, d Store) storage.Storage {
	return Only(d, OptionalOf(inner))
}

// Only returns d as a value that implements [storage.Storage],
// [storage.ClientManager] and, of the optional interfaces, exactly those in
// o. Every method call goes to d.
func Only(d Store, o Optional) storage.Storage {
	return only(d, o&AllOptional)
}

// Manager returns inner's [storage.ClientManager]: part of every
// [storage.Storage].
func Manager(inner storage.Storage) storage.ClientManager { return inner }

// ForwardClose closes inner if it is an [io.Closer], and returns nil otherwise.
func ForwardClose(inner storage.Storage) error {
	if c, ok := inner.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ForwardStats returns inner's stats, or an error wrapping [errors.ErrUnsupported]
// if inner is no [storage.StatsReporter]. A decorator wrapped by [Wrap]
// has a Stats method only if inner does.
func ForwardStats(ctx context.Context, inner storage.Storage) (*storage.Stats, error) {
	if r, ok := inner.(storage.StatsReporter); ok {
		return r.Stats(ctx)
	}
	return nil, fmt.Errorf("oauthstore: Stats: the decorated store does not implement storage.StatsReporter: %w", errors.ErrUnsupported)
}

// ForwardDumpRaw returns inner's dump, or an error wrapping
// [errors.ErrUnsupported] if inner is no [RawDumper].
func ForwardDumpRaw(ctx context.Context, inner storage.Storage) ([]byte, error) {
	if d, ok := inner.(RawDumper); ok {
		return d.DumpRaw(ctx)
	}
	return nil, fmt.Errorf("oauthstore: DumpRaw: the decorated store does not implement DumpRaw: %w", errors.ErrUnsupported)
}

// ForwardCredentialDigest returns inner's digest of credential, or
// [secret.Digest] of it (what the conformance suite assumes of a store
// without the method) if inner is no [CredentialDigester].
func ForwardCredentialDigest(inner storage.Storage, credential string) string {
	if d, ok := inner.(CredentialDigester); ok {
		return d.CredentialDigest(credential)
	}
	return secret.Digest(credential)
}

// Method names a method a decorator reports.
type Method uint8

// The methods a decorator reports, one per method of [storage.Storage],
// [storage.ClientManager] and [storage.StatsReporter]. Close, DumpRaw and
// CredentialDigest are forwarded unreported.
const (
	CreateClient Method = iota
	GetClient
	AuthenticateClient
	DeleteClient
	CreateAuthorizationCode
	GetAuthorizationCode
	ConsumeAuthorizationCode
	DeleteAuthorizationCode
	CreateToken
	GetTokenByAccess
	GetTokenByRefresh
	RevokeToken
	RotateToken
	RevokeGrant
	PurgeExpired
	UpdateClient
	RotateClientSecret
	RemoveClientSecrets
	ListClients
	RevokeClientTokens
	Stats

	// NumMethods is the number of methods.
	NumMethods = iota
)

var methodNames = [NumMethods]string{
	"CreateClient",
	"GetClient",
	"AuthenticateClient",
	"DeleteClient",
	"CreateAuthorizationCode",
	"GetAuthorizationCode",
	"ConsumeAuthorizationCode",
	"DeleteAuthorizationCode",
	"CreateToken",
	"GetTokenByAccess",
	"GetTokenByRefresh",
	"RevokeToken",
	"RotateToken",
	"RevokeGrant",
	"PurgeExpired",
	"UpdateClient",
	"RotateClientSecret",
	"RemoveClientSecrets",
	"ListClients",
	"RevokeClientTokens",
	"Stats",
}

// String returns the method's name, as in the Go interface.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// SpanName returns the name a span or log line of the method has:
// "oauthstore." followed by the method's name.
func (m Method) SpanName() string { return spanNames[m] }

var spanNames = func() (n [NumMethods]string) {
	for i := range n {
		n[i] = "oauthstore." + methodNames[i]
	}
	return n
}()

// Outcome is how a call ended, named after the storage sentinel or
// context error its error matches.
type Outcome uint8

// The outcomes of a call.
const (
	OK               Outcome = iota // no error
	NotFound                        // storage.ErrNotFound
	AlreadyExists                   // storage.ErrAlreadyExists
	Expired                         // storage.ErrExpired
	Revoked                         // storage.ErrRevoked
	AlreadyUsed                     // storage.ErrAlreadyUsed
	Invalid                         // storage.ErrInvalid
	InvalidSecret                   // storage.ErrInvalidSecret
	Canceled                        // context.Canceled
	DeadlineExceeded                // context.DeadlineExceeded
	Unsupported                     // errors.ErrUnsupported
	Error                           // any other error: unexpected

	// NumOutcomes is the number of outcomes.
	NumOutcomes = iota
)

var outcomeNames = [NumOutcomes]string{
	"ok",
	"not_found",
	"already_exists",
	"expired",
	"revoked",
	"already_used",
	"invalid",
	"invalid_secret",
	"canceled",
	"deadline_exceeded",
	"unsupported",
	"error",
}

// String returns the outcome's label: "ok", "not_found", "already_exists",
// "expired", "revoked", "already_used", "invalid", "invalid_secret",
// "canceled", "deadline_exceeded", "unsupported" or "error".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// sentinels are matched in this order; the context errors first, since a
// store returns an error wrapping ctx.Err() once ctx is done, whatever
// else it says.
var sentinels = [...]struct {
	err error
	o   Outcome
}{
	{context.Canceled, Canceled},
	{context.DeadlineExceeded, DeadlineExceeded},
	{storage.ErrAlreadyUsed, AlreadyUsed},
	{storage.ErrRevoked, Revoked},
	{storage.ErrExpired, Expired},
	{storage.ErrNotFound, NotFound},
	{storage.ErrAlreadyExists, AlreadyExists},
	{storage.ErrInvalidSecret, InvalidSecret},
	{storage.ErrInvalid, Invalid},
	{errors.ErrUnsupported, Unsupported},
}

// OutcomeOf returns the outcome of a call that returned err, matching err
// with [errors.Is].
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OK
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.o
		}
	}
	return Error
}

// Expected reports whether the outcome is one the contract names: a
// result a server handles (a wrong, unknown, expired, revoked or replayed
// credential, a bad request, a caller that gave up), as opposed to a
// failure of the store (Error), an operation it lacks (Unsupported) or a
// deadline that ran out inside it (DeadlineExceeded, most often a slow
// backend). OK is not expected: it is a success.
func (o Outcome) Expected() bool {
	switch o {
	case NotFound, AlreadyExists, Expired, Revoked, AlreadyUsed, Invalid, InvalidSecret, Canceled:
		return true
	}
	return false
}

// Conflict reports whether a call of m that ended with o is a conflict a
// server's operators watch: a consumed authorization code exchanged again
// (ConsumeAuthorizationCode, AlreadyUsed: a replay or a lost race) or a
// refresh token that could not be rotated because its pair was revoked
// (RotateToken, Revoked: a reuse, a lost race or a replay within the reuse
// interval).
func Conflict(m Method, o Outcome) bool {
	return (m == ConsumeAuthorizationCode && o == AlreadyUsed) || (m == RotateToken && o == Revoked)
}

// ErrorType returns the Go type of the innermost error err wraps through
// single Unwrap methods (for example "*net.OpError"), or "" for a nil err.
// A type name is fixed at compile time, so it never carries a credential,
// unlike an error's text.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return reflect.TypeOf(err).String()
		}
		err = next
	}
}
