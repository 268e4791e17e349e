package slogstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// The keys of a log line's attributes.
const (
	// MethodKey is the method called, as in the Go interface.
	MethodKey = "method"
	// OutcomeKey is how the call ended: "ok", "not_found",
	// "already_exists", "expired", "revoked", "already_used", "invalid",
	// "invalid_secret", "canceled", "deadline_exceeded", "unsupported" or
	// "error".
	OutcomeKey = "outcome"
	// DurationKey is how long the call took, a [time.Duration].
	DurationKey = "duration"
	// ClientIDKey is the client ID the call was given or, for a read, the
	// client ID of the record returned; absent if neither.
	ClientIDKey = "client_id"
	// ErrorTypeKey is, for an unexpected error (outcome "error"), the Go
	// type of the innermost error ("*pgconn.PgError").
	ErrorTypeKey = "error_type"
	// PurgedKey is, on a PurgeExpired line, how many records it deleted.
	PurgedKey = "purged"
	// ClientsKey is, on a successful ListClients line, how many clients
	// the page holds.
	ClientsKey = "clients"
)

type config struct {
	success, expected, conflict, failure slog.Level
}

// Option configures [New].
type Option func(*config)

// WithSuccessLevel sets the level of the calls that succeed; the default
// is [slog.LevelDebug].
func WithSuccessLevel(l slog.Level) Option { return func(c *config) { c.success = l } }

// WithExpectedLevel sets the level of the calls that fail with an outcome
// the contract names: "not_found", "already_exists", "expired", "revoked",
// "already_used", "invalid", "invalid_secret" or "canceled" (other than
// the conflicts of [WithConflictLevel]). The default is [slog.LevelInfo].
func WithExpectedLevel(l slog.Level) Option { return func(c *config) { c.expected = l } }

// WithConflictLevel sets the level of the conflicts: a
// ConsumeAuthorizationCode of a used code ("already_used": a replayed code
// or a lost race) and a RotateToken of a revoked pair ("revoked": a reused
// refresh token, a lost race, or a replay within the reuse interval).
// The default is [slog.LevelWarn].
func WithConflictLevel(l slog.Level) Option { return func(c *config) { c.conflict = l } }

// WithErrorLevel sets the level of the calls that fail unexpectedly:
// "error" (the store failed), "deadline_exceeded" (most often a slow
// backend) and "unsupported". The default is [slog.LevelError].
func WithErrorLevel(l slog.Level) Option { return func(c *config) { c.failure = l } }

// New returns s decorated with a log line per call, written to logger
// (or, if logger is nil, to what slog.Default returns when New is called):
// its level is by outcome (see the package documentation). The result implements [storage.ClientManager],
// forwarding to s (with an error wrapping [errors.ErrUnsupported] if s has
// none), and of the optional interfaces [io.Closer],
// [storage.StatsReporter] and the conformance test hooks exactly those s
// implements. It panics if s is nil.
func New(s storage.Storage, logger *slog.Logger, opts ...Option) storage.Storage {
	if s == nil {
		panic("slogstore: New with a nil store")
	}
	if logger == nil {
		logger = slog.Default()
	}
	c := config{success: slog.LevelDebug, expected: slog.LevelInfo, conflict: slog.LevelWarn, failure: slog.LevelError}
	for _, o := range opts {
		o(&c)
	}
	d := &store{inner: s, mgr: decorate.Manager(s), logger: logger}
	for o := range decorate.Outcome(decorate.NumOutcomes) {
		switch {
		case o == decorate.OK:
			d.levels[o] = c.success
		case o.Expected():
			d.levels[o] = c.expected
		default:
			d.levels[o] = c.failure
		}
	}
	d.conflict = c.conflict
	d.max = max(c.success, c.expected, c.conflict, c.failure)
	return decorate.Wrap(s, d)
}

// store is the decorator: every method of decorate.Store.
type store struct {
	inner    storage.Storage
	mgr      storage.ClientManager
	logger   *slog.Logger
	levels   [decorate.NumOutcomes]slog.Level
	conflict slog.Level
	max      slog.Level // the highest level a line may have
}

var _ decorate.Store = (*store)(nil)

// call is a call in progress: on if the logger may take its line.
type call struct {
	start time.Time
	on    bool
}

// begin starts a call. If the logger does not take even the highest
// level a line may have (handlers take the levels from a minimum up), it
// takes no line: the call is not timed and logs nothing.
func (s *store) begin(ctx context.Context) call {
	if !s.logger.Enabled(ctx, s.max) {
		return call{}
	}
	return call{start: time.Now(), on: true}
}

// log writes the line of a call c of m that returned err, if the logger
// takes its level. clientID is the client ID the call was given or its
// record carries; extra are the method's own attributes.
// The error's text is never logged: it is the store's and the contract
// does not let it carry credentials, but the decorator does not rely on
// that.
func (s *store) log(ctx context.Context, c call, m decorate.Method, err error, clientID string, extra ...slog.Attr) {
	if !c.on {
		return
	}
	elapsed := time.Since(c.start)
	o := decorate.OutcomeOf(err)
	level := s.levels[o]
	if decorate.Conflict(m, o) {
		level = s.conflict
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	var buf [8]slog.Attr
	attrs := append(buf[:0],
		slog.String(MethodKey, m.String()),
		slog.String(OutcomeKey, o.String()),
		slog.Duration(DurationKey, elapsed))
	if clientID != "" {
		attrs = append(attrs, slog.String(ClientIDKey, clientID))
	}
	if o == decorate.Error {
		attrs = append(attrs, slog.String(ErrorTypeKey, decorate.ErrorType(err)))
	}
	attrs = append(attrs, extra...)
	s.logger.LogAttrs(ctx, level, m.SpanName(), attrs...)
}

// CreateClient implements [storage.ClientStore].
func (s *store) CreateClient(ctx context.Context, c *models.Client) error {
	k := s.begin(ctx)
	err := s.inner.CreateClient(ctx, c)
	s.log(ctx, k, decorate.CreateClient, err, decorate.ClientOf(c))
	return err
}

// GetClient implements [storage.ClientStore].
func (s *store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	k := s.begin(ctx)
	c, err := s.inner.GetClient(ctx, clientID)
	s.log(ctx, k, decorate.GetClient, err, clientID)
	return c, err
}

// AuthenticateClient implements [storage.ClientStore].
func (s *store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	k := s.begin(ctx)
	c, err := s.inner.AuthenticateClient(ctx, clientID, clientSecret)
	s.log(ctx, k, decorate.AuthenticateClient, err, clientID)
	return c, err
}

// DeleteClient implements [storage.ClientStore].
func (s *store) DeleteClient(ctx context.Context, clientID string) error {
	k := s.begin(ctx)
	err := s.inner.DeleteClient(ctx, clientID)
	s.log(ctx, k, decorate.DeleteClient, err, clientID)
	return err
}

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	k := s.begin(ctx)
	err := s.inner.CreateAuthorizationCode(ctx, c)
	s.log(ctx, k, decorate.CreateAuthorizationCode, err, decorate.CodeClientOf(c))
	return err
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	k := s.begin(ctx)
	c, err := s.inner.GetAuthorizationCode(ctx, code)
	s.log(ctx, k, decorate.GetAuthorizationCode, err, decorate.CodeClientOf(c))
	return c, err
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	k := s.begin(ctx)
	c, err := s.inner.ConsumeAuthorizationCode(ctx, code)
	s.log(ctx, k, decorate.ConsumeAuthorizationCode, err, decorate.CodeClientOf(c))
	return c, err
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	k := s.begin(ctx)
	err := s.inner.DeleteAuthorizationCode(ctx, code)
	s.log(ctx, k, decorate.DeleteAuthorizationCode, err, "")
	return err
}

// CreateToken implements [storage.TokenStore].
func (s *store) CreateToken(ctx context.Context, t *models.Token) error {
	k := s.begin(ctx)
	err := s.inner.CreateToken(ctx, t)
	s.log(ctx, k, decorate.CreateToken, err, decorate.TokenClientOf(t))
	return err
}

// GetTokenByAccess implements [storage.TokenStore].
func (s *store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	k := s.begin(ctx)
	t, err := s.inner.GetTokenByAccess(ctx, accessToken)
	s.log(ctx, k, decorate.GetTokenByAccess, err, decorate.TokenClientOf(t))
	return t, err
}

// GetTokenByRefresh implements [storage.TokenStore].
func (s *store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	k := s.begin(ctx)
	t, err := s.inner.GetTokenByRefresh(ctx, refreshToken)
	s.log(ctx, k, decorate.GetTokenByRefresh, err, decorate.TokenClientOf(t))
	return t, err
}

// RevokeToken implements [storage.TokenStore].
func (s *store) RevokeToken(ctx context.Context, token string) error {
	k := s.begin(ctx)
	err := s.inner.RevokeToken(ctx, token)
	s.log(ctx, k, decorate.RevokeToken, err, "")
	return err
}

// RotateToken implements [storage.TokenStore]. The client ID logged is
// next's.
func (s *store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	k := s.begin(ctx)
	err := s.inner.RotateToken(ctx, refreshToken, next)
	s.log(ctx, k, decorate.RotateToken, err, decorate.TokenClientOf(next))
	return err
}

// RevokeGrant implements [storage.Storage]. The grant ID is not logged.
func (s *store) RevokeGrant(ctx context.Context, grantID string) error {
	k := s.begin(ctx)
	err := s.inner.RevokeGrant(ctx, grantID)
	s.log(ctx, k, decorate.RevokeGrant, err, "")
	return err
}

// PurgeExpired implements [storage.Storage].
func (s *store) PurgeExpired(ctx context.Context) (int64, error) {
	k := s.begin(ctx)
	n, err := s.inner.PurgeExpired(ctx)
	s.log(ctx, k, decorate.PurgeExpired, err, "", slog.Int64(PurgedKey, n))
	return n, err
}

// UpdateClient implements [storage.ClientManager].
func (s *store) UpdateClient(ctx context.Context, c *models.Client) error {
	k := s.begin(ctx)
	err := s.mgr.UpdateClient(ctx, c)
	s.log(ctx, k, decorate.UpdateClient, err, decorate.ClientOf(c))
	return err
}

// RotateClientSecret implements [storage.ClientManager].
func (s *store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	k := s.begin(ctx)
	err := s.mgr.RotateClientSecret(ctx, clientID, newSecret, previousValidUntil)
	s.log(ctx, k, decorate.RotateClientSecret, err, clientID)
	return err
}

// RemoveClientSecrets implements [storage.ClientManager].
func (s *store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	k := s.begin(ctx)
	err := s.mgr.RemoveClientSecrets(ctx, clientID)
	s.log(ctx, k, decorate.RemoveClientSecrets, err, clientID)
	return err
}

// ListClients implements [storage.ClientManager]. The query (a cursor and
// a user ID) is not logged.
func (s *store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	k := s.begin(ctx)
	p, err := s.mgr.ListClients(ctx, q)
	if err != nil {
		s.log(ctx, k, decorate.ListClients, err, "")
	} else {
		s.log(ctx, k, decorate.ListClients, err, "", slog.Int(ClientsKey, len(p.Clients)))
	}
	return p, err
}

// RevokeClientTokens implements [storage.ClientManager].
func (s *store) RevokeClientTokens(ctx context.Context, clientID string) error {
	k := s.begin(ctx)
	err := s.mgr.RevokeClientTokens(ctx, clientID)
	s.log(ctx, k, decorate.RevokeClientTokens, err, clientID)
	return err
}

// Stats implements [storage.StatsReporter] if the inner store does.
func (s *store) Stats(ctx context.Context) (*storage.Stats, error) {
	k := s.begin(ctx)
	st, err := decorate.ForwardStats(ctx, s.inner)
	s.log(ctx, k, decorate.Stats, err, "")
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
