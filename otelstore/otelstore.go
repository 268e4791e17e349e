package otelstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/oauthstore/oauthstore/otelstore"

// The attributes of spans and metric points.
const (
	// MethodKey is the method called, as in the Go interface:
	// "GetTokenByAccess". On every span and duration point.
	MethodKey = attribute.Key("oauthstore.method")
	// OutcomeKey is how the call ended: "ok", "not_found",
	// "already_exists", "expired", "revoked", "already_used", "invalid",
	// "invalid_secret", "canceled", "deadline_exceeded", "unsupported" or
	// "error". On every span and duration point.
	OutcomeKey = attribute.Key("oauthstore.outcome")
	// ClientIDKey is the client ID the call was given or, for a read, the
	// client ID of the record returned. On spans only: client IDs are
	// unbounded, so they are no metric label.
	ClientIDKey = attribute.Key("oauthstore.client_id")
	// ErrorTypeKey is, on the span of a failed call, the outcome for an
	// error the contract names and the Go type of the innermost error
	// otherwise ("*pgconn.PgError"), as OpenTelemetry's error.type.
	ErrorTypeKey = attribute.Key("error.type")
	// PurgedKey is, on a PurgeExpired span, how many records it deleted.
	PurgedKey = attribute.Key("oauthstore.purged")
	// ClientsKey is, on a ListClients span, how many clients the page
	// holds.
	ClientsKey = attribute.Key("oauthstore.clients")
)

// The metric instruments.
const (
	// DurationMetric is a histogram of the duration of every call, in
	// seconds, by MethodKey and OutcomeKey.
	DurationMetric = "oauthstore.operation.duration"
	// ConsumeConflictsMetric counts the ConsumeAuthorizationCode calls
	// that found the code already used (storage.ErrAlreadyUsed): a replay
	// of an authorization code, or a lost race to exchange it.
	ConsumeConflictsMetric = "oauthstore.code.consume_conflicts"
	// RotationConflictsMetric counts the RotateToken calls refused
	// because the refresh token's pair was already revoked
	// (storage.ErrRevoked): a reuse of a rotated refresh token, a lost
	// race to rotate it, or a replay within the store's reuse interval.
	RotationConflictsMetric = "oauthstore.token.rotation_conflicts"
	// PurgedMetric counts the records PurgeExpired deleted.
	PurgedMetric = "oauthstore.purged_records"
)

// durationBounds are the histogram's bucket boundaries in seconds, from
// 50µs (an in-memory lookup) to 10s.
var durationBounds = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// Option configures [New].
type Option func(*config)

// WithTracerProvider makes the decorator create its spans with tp instead
// of the global tracer provider ([otel.GetTracerProvider]).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider makes the decorator record its metrics with mp
// instead of the global meter provider ([otel.GetMeterProvider]).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// The per-method and per-outcome options, built once so that a call
// allocates none.
var (
	startOpts    [decorate.NumMethods][]trace.SpanStartOption
	recordOpts   [decorate.NumMethods][decorate.NumOutcomes][]metric.RecordOption
	outcomeAttrs [decorate.NumOutcomes]attribute.KeyValue
	errorAttrs   [decorate.NumOutcomes]attribute.KeyValue
)

func init() {
	for o := range decorate.Outcome(decorate.NumOutcomes) {
		outcomeAttrs[o] = OutcomeKey.String(o.String())
		errorAttrs[o] = ErrorTypeKey.String(o.String())
	}
	for m := range decorate.Method(decorate.NumMethods) {
		method := MethodKey.String(m.String())
		startOpts[m] = []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(method),
		}
		for o := range decorate.Outcome(decorate.NumOutcomes) {
			set := attribute.NewSet(method, outcomeAttrs[o])
			recordOpts[m][o] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
}

// New returns s decorated with OpenTelemetry traces and metrics: one span
// and one duration measurement per call, and counters of conflicts and
// purged records (see the package documentation). The result implements
// [storage.ClientManager], forwarding to s (with an error wrapping
// [errors.ErrUnsupported] if s has none), and of the optional interfaces
// [io.Closer], [storage.StatsReporter] and the conformance test hooks
// exactly those s implements. It panics if s is nil.
func New(s storage.Storage, opts ...Option) storage.Storage {
	if s == nil {
		panic("otelstore: New with a nil store")
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName)
	d := &store{
		inner:  s,
		mgr:    decorate.Manager(s),
		tracer: c.tp.Tracer(ScopeName),
	}
	// An instrument that cannot be created is a usable no-op one; the
	// error goes to the global error handler.
	var err, e error
	d.duration, e = meter.Float64Histogram(DurationMetric,
		metric.WithDescription("Duration of the calls of the OAuth store, by method and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	err = errors.Join(err, e)
	d.consumeConflicts, e = meter.Int64Counter(ConsumeConflictsMetric,
		metric.WithDescription("ConsumeAuthorizationCode calls that found the code already used: a replayed authorization code or a lost race."),
		metric.WithUnit("{call}"))
	err = errors.Join(err, e)
	d.rotationConflicts, e = meter.Int64Counter(RotationConflictsMetric,
		metric.WithDescription("RotateToken calls refused because the pair was already revoked: a reused refresh token, a lost race or a replay within the reuse interval."),
		metric.WithUnit("{call}"))
	err = errors.Join(err, e)
	d.purged, e = meter.Int64Counter(PurgedMetric,
		metric.WithDescription("Expired codes and token pairs deleted by PurgeExpired."),
		metric.WithUnit("{record}"))
	err = errors.Join(err, e)
	if err != nil {
		otel.Handle(fmt.Errorf("otelstore: %w", err))
	}
	return decorate.Wrap(s, d)
}

// store is the decorator: every method of decorate.Store.
type store struct {
	inner  storage.Storage
	mgr    storage.ClientManager
	tracer trace.Tracer

	duration                                    metric.Float64Histogram
	consumeConflicts, rotationConflicts, purged metric.Int64Counter
}

var _ decorate.Store = (*store)(nil)

// call is one call in progress.
type call struct {
	span  trace.Span
	start time.Time
	timed bool // the duration histogram is enabled: start is set
	m     decorate.Method
}

// begin starts the span of a call of m; clientID is the client ID the call
// was given, if any. The call is timed only if the duration histogram is
// enabled (not with a no-op meter provider).
func (s *store) begin(ctx context.Context, m decorate.Method, clientID string) (context.Context, call) {
	ctx, span := s.tracer.Start(ctx, m.SpanName(), startOpts[m]...)
	if clientID != "" && span.IsRecording() {
		span.SetAttributes(ClientIDKey.String(clientID))
	}
	c := call{span: span, m: m, timed: s.duration.Enabled(ctx)}
	if c.timed {
		c.start = time.Now()
	}
	return ctx, c
}

// returned records the client ID of the record a read by credential
// returned.
func (c *call) returned(clientID string) {
	if clientID != "" && c.span.IsRecording() {
		c.span.SetAttributes(ClientIDKey.String(clientID))
	}
}

// end ends the call: it records the outcome on the span, ends it, and
// records the metrics. The error's text is never recorded: it is the
// store's and the contract does not let it carry credentials, but the
// decorator does not rely on that.
func (s *store) end(ctx context.Context, c *call, err error) {
	var elapsed time.Duration
	if c.timed {
		elapsed = time.Since(c.start)
	}
	o := decorate.OutcomeOf(err)
	if c.span.IsRecording() {
		c.span.SetAttributes(outcomeAttrs[o])
		if err != nil {
			if o == decorate.Error {
				c.span.SetAttributes(ErrorTypeKey.String(decorate.ErrorType(err)))
			} else {
				c.span.SetAttributes(errorAttrs[o])
			}
			c.span.SetStatus(codes.Error, o.String())
		}
	}
	c.span.End()
	if c.timed {
		s.duration.Record(ctx, elapsed.Seconds(), recordOpts[c.m][o]...)
	}
	if decorate.Conflict(c.m, o) {
		switch c.m {
		case decorate.ConsumeAuthorizationCode:
			s.consumeConflicts.Add(ctx, 1)
		case decorate.RotateToken:
			s.rotationConflicts.Add(ctx, 1)
		}
	}
}

// CreateClient implements [storage.ClientStore].
func (s *store) CreateClient(ctx context.Context, c *models.Client) error {
	ctx, k := s.begin(ctx, decorate.CreateClient, decorate.ClientOf(c))
	err := s.inner.CreateClient(ctx, c)
	s.end(ctx, &k, err)
	return err
}

// GetClient implements [storage.ClientStore].
func (s *store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	ctx, k := s.begin(ctx, decorate.GetClient, clientID)
	c, err := s.inner.GetClient(ctx, clientID)
	s.end(ctx, &k, err)
	return c, err
}

// AuthenticateClient implements [storage.ClientStore].
func (s *store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	ctx, k := s.begin(ctx, decorate.AuthenticateClient, clientID)
	c, err := s.inner.AuthenticateClient(ctx, clientID, clientSecret)
	s.end(ctx, &k, err)
	return c, err
}

// DeleteClient implements [storage.ClientStore].
func (s *store) DeleteClient(ctx context.Context, clientID string) error {
	ctx, k := s.begin(ctx, decorate.DeleteClient, clientID)
	err := s.inner.DeleteClient(ctx, clientID)
	s.end(ctx, &k, err)
	return err
}

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	ctx, k := s.begin(ctx, decorate.CreateAuthorizationCode, decorate.CodeClientOf(c))
	err := s.inner.CreateAuthorizationCode(ctx, c)
	s.end(ctx, &k, err)
	return err
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	ctx, k := s.begin(ctx, decorate.GetAuthorizationCode, "")
	c, err := s.inner.GetAuthorizationCode(ctx, code)
	k.returned(decorate.CodeClientOf(c))
	s.end(ctx, &k, err)
	return c, err
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	ctx, k := s.begin(ctx, decorate.ConsumeAuthorizationCode, "")
	c, err := s.inner.ConsumeAuthorizationCode(ctx, code)
	k.returned(decorate.CodeClientOf(c))
	s.end(ctx, &k, err)
	return c, err
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	ctx, k := s.begin(ctx, decorate.DeleteAuthorizationCode, "")
	err := s.inner.DeleteAuthorizationCode(ctx, code)
	s.end(ctx, &k, err)
	return err
}

// CreateToken implements [storage.TokenStore].
func (s *store) CreateToken(ctx context.Context, t *models.Token) error {
	ctx, k := s.begin(ctx, decorate.CreateToken, decorate.TokenClientOf(t))
	err := s.inner.CreateToken(ctx, t)
	s.end(ctx, &k, err)
	return err
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	ctx, k := s.begin(ctx, decorate.GetTokenByAccess, "")
	t, err := s.inner.GetTokenByAccess(ctx, accessToken)
	k.returned(decorate.TokenClientOf(t))
	s.end(ctx, &k, err)
	return t, err
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	ctx, k := s.begin(ctx, decorate.GetTokenByRefresh, "")
	t, err := s.inner.GetTokenByRefresh(ctx, refreshToken)
	k.returned(decorate.TokenClientOf(t))
	s.end(ctx, &k, err)
	return t, err
}

// RevokeToken implements [storage.TokenStore].
func (s *store) RevokeToken(ctx context.Context, token string) error {
	ctx, k := s.begin(ctx, decorate.RevokeToken, "")
	err := s.inner.RevokeToken(ctx, token)
	s.end(ctx, &k, err)
	return err
}

// RotateToken implements [storage.TokenStore]. The client ID recorded is
// next's.
func (s *store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	ctx, k := s.begin(ctx, decorate.RotateToken, decorate.TokenClientOf(next))
	err := s.inner.RotateToken(ctx, refreshToken, next)
	s.end(ctx, &k, err)
	return err
}

// RevokeGrant implements [storage.Storage]. The grant ID is not recorded.
func (s *store) RevokeGrant(ctx context.Context, grantID string) error {
	ctx, k := s.begin(ctx, decorate.RevokeGrant, "")
	err := s.inner.RevokeGrant(ctx, grantID)
	s.end(ctx, &k, err)
	return err
}

// PurgeExpired implements [storage.Storage].
func (s *store) PurgeExpired(ctx context.Context) (int64, error) {
	ctx, k := s.begin(ctx, decorate.PurgeExpired, "")
	n, err := s.inner.PurgeExpired(ctx)
	if n > 0 {
		s.purged.Add(ctx, n)
	}
	if k.span.IsRecording() {
		k.span.SetAttributes(PurgedKey.Int64(n))
	}
	s.end(ctx, &k, err)
	return n, err
}

// UpdateClient implements [storage.ClientManager].
func (s *store) UpdateClient(ctx context.Context, c *models.Client) error {
	ctx, k := s.begin(ctx, decorate.UpdateClient, decorate.ClientOf(c))
	err := s.mgr.UpdateClient(ctx, c)
	s.end(ctx, &k, err)
	return err
}

// RotateClientSecret implements [storage.ClientManager].
func (s *store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	ctx, k := s.begin(ctx, decorate.RotateClientSecret, clientID)
	err := s.mgr.RotateClientSecret(ctx, clientID, newSecret, previousValidUntil)
	s.end(ctx, &k, err)
	return err
}

// RemoveClientSecrets implements [storage.ClientManager].
func (s *store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	ctx, k := s.begin(ctx, decorate.RemoveClientSecrets, clientID)
	err := s.mgr.RemoveClientSecrets(ctx, clientID)
	s.end(ctx, &k, err)
	return err
}

// ListClients implements [storage.ClientManager]. The query (a cursor and
// a user ID) is not recorded.
func (s *store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	ctx, k := s.begin(ctx, decorate.ListClients, "")
	p, err := s.mgr.ListClients(ctx, q)
	if err == nil && k.span.IsRecording() {
		k.span.SetAttributes(ClientsKey.Int(len(p.Clients)))
	}
	s.end(ctx, &k, err)
	return p, err
}

// RevokeClientTokens implements [storage.ClientManager].
func (s *store) RevokeClientTokens(ctx context.Context, clientID string) error {
	ctx, k := s.begin(ctx, decorate.RevokeClientTokens, clientID)
	err := s.mgr.RevokeClientTokens(ctx, clientID)
	s.end(ctx, &k, err)
	return err
}

// Stats implements [storage.StatsReporter] if the inner store does.
func (s *store) Stats(ctx context.Context) (*storage.Stats, error) {
	ctx, k := s.begin(ctx, decorate.Stats, "")
	st, err := decorate.ForwardStats(ctx, s.inner)
	s.end(ctx, &k, err)
	return st, err
}

// Close closes the inner store, if it is an [io.Closer].
func (s *store) Close() error { return decorate.ForwardClose(s.inner) }

// DumpRaw forwards the conformance test hook.
func (s *store) DumpRaw(ctx context.Context) ([]byte, error) {
	return decorate.ForwardDumpRaw(ctx, s.inner)
}

// CredentialDigest forwards the conformance test hook.
func (s *store) CredentialDigest(credential string) string {
	return decorate.ForwardCredentialDigest(s.inner, credential)
}
