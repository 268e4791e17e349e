// Package slogstore decorates any [storage.Storage] with a [log/slog] line
// per call:
//
//	store = slogstore.New(store, logger)
//
// It depends on the standard library only. The logger's handler decides
// the format and where lines go; the decorator decides what they say.
//
// # Lines
//
// Each call of a method of [storage.Storage], [storage.ClientManager] and
// [storage.StatsReporter] writes one record, through the call's context
// (so a handler can add its trace ID), whose message is "oauthstore." and
// the method's name ("oauthstore.GetTokenByAccess") and whose attributes
// are:
//
//   - [MethodKey] (method): the method's name.
//   - [OutcomeKey] (outcome): "ok", or the storage sentinel or context
//     error the call's error matches with [errors.Is]: "not_found",
//     "already_exists", "expired", "revoked", "already_used", "invalid",
//     "invalid_secret", "canceled", "deadline_exceeded"; "unsupported" for
//     a client management call on a store without it; "error" for anything
//     else.
//   - [DurationKey] (duration): how long the inner store took.
//   - [ClientIDKey] (client_id): the client ID the call was given
//     (GetClient, DeleteClient, CreateToken's t.ClientID, RotateToken's
//     next.ClientID...), or that the record a read by credential returned
//     carries (GetTokenByAccess, ConsumeAuthorizationCode...); absent
//     otherwise.
//   - [ErrorTypeKey] (error_type), for an "error": the Go type of the
//     innermost error.
//   - [PurgedKey] (purged) on PurgeExpired, [ClientsKey] (clients) on a
//     successful ListClients.
//
// # Levels
//
// The level depends on the outcome, so that a handler's level filters
// the routine out and keeps what needs attention:
//
//   - success ("ok"): [slog.LevelDebug] ([WithSuccessLevel]);
//   - an outcome the contract names, which a server meets in normal
//     operation (an unknown, expired or revoked token, a wrong secret, a
//     malformed record, a caller that gave up: "not_found",
//     "already_exists", "expired", "revoked", "already_used", "invalid",
//     "invalid_secret", "canceled"): [slog.LevelInfo] ([WithExpectedLevel]);
//   - a conflict, which may be an attack: a used authorization code
//     exchanged again (ConsumeAuthorizationCode, "already_used") or a
//     revoked refresh token rotated again (RotateToken, "revoked"):
//     [slog.LevelWarn] ([WithConflictLevel]);
//   - a failure of the store ("error", "deadline_exceeded",
//     "unsupported"): [slog.LevelError] ([WithErrorLevel]).
//
// # What is never logged
//
// No credential reaches a line: not a client secret, code, PKCE verifier,
// access or refresh token, nor a digest of one, nor a client's secret
// hash, whatever the call. The error a store returns is not logged either,
// only its outcome and, for an unexpected one, its Go type: the contract
// forbids a store to put a credential in an error, but a driver's error is
// not the store's to vouch for. A caller that wants the text of unexpected
// errors logs them itself, where it knows what they may hold.
//
// Grant IDs are not logged: a grant ID is not a credential, but it links
// one user's codes and tokens across refreshes, a caller may set its own
// from data of its own, and RevokeGrant acts on every token of a grant.
// The client ID, which is public, is what lines are grouped by. User IDs,
// scopes, redirect URIs and ListClients' query are not logged either.
//
// # Optional interfaces
//
// The decorated store implements [storage.ClientManager], forwarding to
// the inner store (a store without it makes those calls fail with an error
// wrapping [errors.ErrUnsupported]), and of [io.Closer],
// [storage.StatsReporter] and the conformance suite's RawDumper and
// CredentialDigester exactly those the inner store implements: a type
// assertion on it succeeds if and only if it succeeds on the inner store.
// Close, DumpRaw and CredentialDigest are forwarded without a line. The
// decorated store passes the conformance suite.
//
// # Overhead
//
// When the logger does not take the highest of the four levels (a
// discarding handler, or one above them all), a call costs one call of the
// handler's Enabled method: it is neither timed nor logged. Otherwise it costs two clock
// readings, and the attributes are built only if the logger takes the
// line's level. The package's benchmarks compare it with the bare store:
//
//	go test -run '^$' -bench . -count 6 ./slogstore | benchstat -col /store -
package slogstore
