// Package otelstore decorates any [storage.Storage] with OpenTelemetry
// traces and metrics, through the OpenTelemetry API only:
//
//	store = otelstore.New(store,
//		otelstore.WithTracerProvider(tp),
//		otelstore.WithMeterProvider(mp))
//
// Without options it uses the global providers ([otel.GetTracerProvider],
// [otel.GetMeterProvider]), which record nothing until an SDK is
// installed. The package imports no SDK or exporter: the application
// chooses them. Only a program that imports otelstore has OpenTelemetry in
// its build; the rest of the module does not depend on it.
//
// # Traces
//
// Every call of a method of [storage.Storage], [storage.ClientManager] and
// [storage.StatsReporter] is one span of kind internal, a child of the span
// in the call's context, named "oauthstore." and the method's name
// ("oauthstore.GetTokenByAccess"). The inner store gets the span's context,
// so its own spans (a database driver's) nest under it. A span has these
// attributes:
//
//   - [MethodKey] (oauthstore.method): the method's name.
//   - [OutcomeKey] (oauthstore.outcome): "ok", or the storage sentinel or
//     context error the call's error matches with [errors.Is]: "not_found",
//     "already_exists", "expired", "revoked", "already_used", "invalid",
//     "invalid_secret", "canceled", "deadline_exceeded"; "unsupported" for
//     a client management call on a store without it; "error" for anything
//     else.
//   - [ClientIDKey] (oauthstore.client_id): the client ID the call was
//     given (GetClient, DeleteClient, CreateToken's t.ClientID, RotateToken's
//     next.ClientID...), or that the record a read by credential returned
//     carries (GetTokenByAccess, ConsumeAuthorizationCode...).
//   - [ErrorTypeKey] (error.type), on a failed call: the outcome, or for an
//     "error" the Go type of the innermost error.
//   - [PurgedKey] on PurgeExpired, [ClientsKey] on ListClients.
//
// A failed call's span has the status Error with the outcome as its
// description. Expected outcomes (not_found, expired...) are errors too:
// a sampler or a query filters them by outcome.
//
// # Metrics
//
//   - [DurationMetric] (oauthstore.operation.duration), a histogram of
//     every call's duration in seconds, by method and outcome; its buckets
//     go from 50µs to 10s.
//   - [ConsumeConflictsMetric] (oauthstore.code.consume_conflicts): the
//     ConsumeAuthorizationCode calls that found the code used
//     ([storage.ErrAlreadyUsed]): replayed codes and lost races.
//   - [RotationConflictsMetric] (oauthstore.token.rotation_conflicts): the
//     RotateToken calls refused with [storage.ErrRevoked]: reused refresh
//     tokens, lost races and replays within a reuse interval.
//   - [PurgedMetric] (oauthstore.purged_records): the records
//     PurgeExpired deleted, the sum of what it returned.
//
// Metric points have the method and outcome as their only attributes, so
// their number is bounded: no client ID, user ID or other unbounded value.
//
// # What is never recorded
//
// No credential reaches a span or a metric: not a client secret, code,
// PKCE verifier, access or refresh token, nor a digest of one, nor a
// client's secret hash, whatever the call. The error a store returns is
// not recorded either (no span event, no status text from it), only its
// outcome and type: the contract forbids a store to put a credential in an
// error, but a driver's error is not the store's to vouch for.
//
// Grant IDs are not recorded. A grant ID is not a credential (it cannot
// be exchanged for anything), but it is the one value that links a user's
// codes and tokens across refreshes, so a trace backend holding it could
// follow one user's sessions; a caller may set its own grant IDs from data
// of its own; and RevokeGrant acts on every token of a grant. The client
// ID, which is public (it travels in URLs), is enough to aggregate by.
// User IDs, scopes, redirect URIs and ListClients' query are not recorded
// either.
//
// # Optional interfaces
//
// The decorated store implements [storage.ClientManager], forwarding to
// the inner store (a store without it makes those calls fail with an error
// wrapping [errors.ErrUnsupported]), and of [io.Closer],
// [storage.StatsReporter] and the conformance suite's RawDumper and
// CredentialDigester exactly those the inner store implements: a type
// assertion on it succeeds if and only if it succeeds on the inner store.
// Close, DumpRaw and CredentialDigest are forwarded without a span. The
// decorated store passes the conformance suite.
//
// # Overhead
//
// With no-op providers a call costs a span start (one allocation, of the
// context carrying the span), a span end and the histogram's Enabled
// check: the call is timed only if the histogram is enabled, and span
// attributes are built only for recording spans. Metric attribute sets are
// built once, in advance. The package's benchmarks
// compare it with the bare store:
//
//	go test -run '^$' -bench . -count 6 ./otelstore | benchstat -col /store -
package otelstore
