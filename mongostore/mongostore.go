package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// DefaultCollectionPrefix is the prefix of the store's collection names
// unless [WithCollectionPrefix] sets another.
const DefaultCollectionPrefix = "oauth_"

// The store's collection names, after the prefix.
const (
	ClientsCollection   = "clients"   // one document per client, _id = client ID
	CodesCollection     = "codes"     // one document per code, _id = digest of the code
	CodeUsesCollection  = "code_uses" // used-markers: one document per consumed code
	TokensCollection    = "tokens"    // one document per token pair, _id = digest of the access token
	RotationsCollection = "rotations" // rotation markers: one document per rotated refresh token
)

// DefaultTTLGrace is how long after expiry the TTL indexes let MongoDB keep
// a document unless [WithTTLGrace] says otherwise.
const DefaultTTLGrace = time.Hour

// DefaultPurgeBatchSize is how many documents [Store.PurgeExpired] deletes
// per statement unless [WithPurgeBatchSize] says otherwise.
const DefaultPurgeBatchSize = 1000

// flagTimeout bounds the writes that follow a decided insert: the
// best-effort write that flags a consumed code document after its
// used-marker was inserted (see [Store.ConsumeAuthorizationCode]), and the
// steps of [Store.RotateToken] after its rotation marker was inserted. They
// run on a context detached from the caller's, so that a cancellation after
// the decision does not leave it half-done.
const flagTimeout = 10 * time.Second

// rotateAttempts bounds how many times [Store.RotateToken] starts over when
// the rotation marker that made its insert fail is gone by the time it reads
// it (the rotation that inserted it was rolled back).
const rotateAttempts = 4

// Store is a [storage.Storage] on a MongoDB database. Create one with [New].
// It is safe for concurrent use, by any number of processes sharing the
// database.
type Store struct {
	now    func() time.Time
	hasher secret.Hasher
	auth   *backendkit.ClientAuth // hashes and verifies client secrets with hasher
	prefix string
	grace  time.Duration
	reuse  time.Duration // reuse interval of RotateToken

	onTTLUnsupported func(error)
	ttl              bool
	purgeBatch       int

	clients, codes, uses, tokens, rotations *mongo.Collection
}

var _ storage.Storage = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithClock sets the clock the store uses for every expiry decision. The
// default is [time.Now]. The server's clock is never consulted, except by
// TTL indexes, which delete only what has been expired for the grace period
// of [WithTTLGrace].
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithHasher sets the hasher for client secrets. The default is
// [secret.Default].
func WithHasher(h secret.Hasher) Option {
	return func(s *Store) {
		if h != nil {
			s.hasher = h
		}
	}
}

// WithCollectionPrefix sets the prefix of the five collection names
// ([DefaultCollectionPrefix] by default), so that several stores can share a
// database.
func WithCollectionPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// WithTTLGrace sets how long after its expiry a code or token document stays
// before a TTL index lets the server delete it: [DefaultTTLGrace] by
// default. A used code is told apart from an unknown one
// ([storage.ErrAlreadyUsed] rather than [storage.ErrNotFound]) only while it
// is stored, so the grace period is the replay window kept beyond expiry.
// It is rounded up to whole seconds; a negative value makes [New] fail.
// An existing TTL index with another grace period is changed to this one.
func WithTTLGrace(d time.Duration) Option {
	return func(s *Store) { s.grace = d }
}

// WithPurgeBatchSize sets how many documents one delete statement of
// [Store.PurgeExpired] may remove: [DefaultPurgeBatchSize] by default. A
// large backlog of expired documents is thus deleted in many short
// statements, none of which holds its locks for long or exceeds a server's
// limits (FerretDB's SQLite handler fails on a delete of more than 32,766
// documents; keep n well below that there). n <= 0 makes [New] fail with
// [storage.ErrInvalid].
func WithPurgeBatchSize(n int) Option {
	return func(s *Store) { s.purgeBatch = n }
}

// WithReuseInterval sets the reuse interval of [Store.RotateToken]: for d
// after a rotation (by the store's clock), a replay of the rotated refresh
// token fails with [storage.ErrRevoked] without revoking the grant, for
// clients that retry a refresh whose answer they lost. The default, 0, is no
// interval: every replay revokes the grant. A pair revoked rather than
// rotated never has one. A negative d makes [New] fail with
// [storage.ErrInvalid].
func WithReuseInterval(d time.Duration) Option {
	return func(s *Store) { s.reuse = d }
}

// WithTTLUnsupported sets a function [New] calls, with the server's answer,
// when the server refuses TTL indexes (FerretDB answers NotImplemented). The
// store then creates plain indexes on the expiry instants instead, and only
// [Store.PurgeExpired] deletes expired documents. [Store.TTLEnabled] reports
// the same thing after New.
func WithTTLUnsupported(f func(err error)) Option {
	return func(s *Store) { s.onTTLUnsupported = f }
}

// New returns a store on db, creating its collections' indexes if they do
// not exist yet. It is idempotent: every process may call it at start-up.
//
// New first asks for TTL indexes on the expiry instants; if the server
// answers that it does not implement them, New creates plain indexes
// instead, calls the [WithTTLUnsupported] function and goes on.
func New(ctx context.Context, db *mongo.Database, opts ...Option) (*Store, error) {
	const op = "mongostore: new"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("%s: nil database: %w", op, storage.ErrInvalid)
	}
	s := &Store{
		now: time.Now, hasher: secret.Default(), prefix: DefaultCollectionPrefix,
		grace: DefaultTTLGrace, purgeBatch: DefaultPurgeBatchSize,
	}
	for _, o := range opts {
		o(s)
	}
	s.auth = backendkit.NewClientAuth(s.hasher)
	if s.grace < 0 {
		return nil, fmt.Errorf("%s: negative TTL grace period %v: %w", op, s.grace, storage.ErrInvalid)
	}
	if s.reuse < 0 {
		return nil, fmt.Errorf("%s: negative reuse interval %v: %w", op, s.reuse, storage.ErrInvalid)
	}
	if s.purgeBatch <= 0 {
		return nil, fmt.Errorf("%s: purge batch size %d: %w", op, s.purgeBatch, storage.ErrInvalid)
	}
	// Every decision reads what the previous write left: reads go to the
	// primary, whatever the database's own read preference.
	copts := options.Collection().SetReadPreference(readpref.Primary())
	s.clients = db.Collection(s.prefix+ClientsCollection, copts)
	s.codes = db.Collection(s.prefix+CodesCollection, copts)
	s.uses = db.Collection(s.prefix+CodeUsesCollection, copts)
	s.tokens = db.Collection(s.prefix+TokensCollection, copts)
	s.rotations = db.Collection(s.prefix+RotationsCollection, copts)
	if err := s.createIndexes(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s, nil
}

// TTLEnabled reports whether the store's expiry indexes are TTL indexes, so
// that the server deletes expired documents by itself. When false, call
// [Store.PurgeExpired] periodically.
func (s *Store) TTLEnabled() bool { return s.ttl }

// Index names, as listed by listIndexes.
const (
	indexClientID  = "client_id_1"
	indexOwner     = "user_id_1__id_1"
	indexGrantID   = "grant_id_1"
	indexRefresh   = "refresh_1_unique"
	indexCode      = "code_1"
	indexExpiry    = "expires_at_1"     // plain index where TTL is refused
	indexExpiryTTL = "expires_at_1_ttl" // TTL index
	indexPurge     = "purge_at_1"
	indexPurgeTTL  = "purge_at_1_ttl"
)

func (s *Store) createIndexes(ctx context.Context) error {
	// _id indexes, always unique, hold the client ID, the code digest and
	// the access token digest.
	plain := []struct {
		c      *mongo.Collection
		models []mongo.IndexModel
	}{
		// ListClients of one owner: user_id equality, then _id order.
		{s.clients, []mongo.IndexModel{
			{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName(indexOwner)},
		}},
		{s.codes, []mongo.IndexModel{
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
			{Keys: bson.D{{Key: "grant_id", Value: 1}}, Options: options.Index().SetName(indexGrantID)},
		}},
		{s.uses, []mongo.IndexModel{
			{Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetName(indexCode)},
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
		}},
		{s.tokens, []mongo.IndexModel{
			// A token without a refresh token has no refresh field; the
			// index is sparse so that such tokens do not collide on a
			// missing value. (FerretDB ignores sparse but, like a sparse
			// index, lets any number of documents lack the field.)
			{Keys: bson.D{{Key: "refresh", Value: 1}}, Options: options.Index().SetName(indexRefresh).SetUnique(true).SetSparse(true)},
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
			{Keys: bson.D{{Key: "grant_id", Value: 1}}, Options: options.Index().SetName(indexGrantID)},
		}},
		{s.rotations, []mongo.IndexModel{
			{Keys: bson.D{{Key: "client_id", Value: 1}}, Options: options.Index().SetName(indexClientID)},
		}},
	}
	for _, p := range plain {
		// One index per request: FerretDB v1.24 panics on a request naming
		// two or more indexes that already exist.
		for _, m := range p.models {
			if _, err := p.c.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("creating indexes of %s: %w", p.c.Name(), err)
			}
		}
	}

	expiry := []struct {
		c                *mongo.Collection
		field, ttl, name string
	}{
		{s.codes, "expires_at", indexExpiryTTL, indexExpiry},
		{s.uses, "expires_at", indexExpiryTTL, indexExpiry},
		{s.tokens, "purge_at", indexPurgeTTL, indexPurge},
		{s.rotations, "expires_at", indexExpiryTTL, indexExpiry},
	}
	s.ttl = true
	for _, e := range expiry {
		if s.ttl {
			err := s.createTTLIndex(ctx, e.c, e.field, e.ttl)
			if err == nil {
				continue
			}
			if !isUnsupported(err) {
				return fmt.Errorf("creating TTL index of %s: %w", e.c.Name(), err)
			}
			s.ttl = false
			if s.onTTLUnsupported != nil {
				s.onTTLUnsupported(err)
			}
		}
		m := mongo.IndexModel{Keys: bson.D{{Key: e.field, Value: 1}}, Options: options.Index().SetName(e.name)}
		if _, err := e.c.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("creating index of %s: %w", e.c.Name(), err)
		}
	}
	return nil
}

// createTTLIndex creates the TTL index on field, or sets its grace period
// if it exists with another.
func (s *Store) createTTLIndex(ctx context.Context, c *mongo.Collection, field, name string) error {
	secs := int64(math.Ceil(s.grace.Seconds()))
	if secs > math.MaxInt32 {
		secs = math.MaxInt32
	}
	m := mongo.IndexModel{
		Keys:    bson.D{{Key: field, Value: 1}},
		Options: options.Index().SetName(name).SetExpireAfterSeconds(int32(secs)),
	}
	_, err := c.Indexes().CreateOne(ctx, m)
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(codeIndexOptionsConflict) {
		// Same key and name, another expireAfterSeconds: change it in place.
		cmd := bson.D{
			{Key: "collMod", Value: c.Name()},
			{Key: "index", Value: bson.D{{Key: "name", Value: name}, {Key: "expireAfterSeconds", Value: int32(secs)}}},
		}
		err = c.Database().RunCommand(ctx, cmd).Err()
	}
	return err
}

// Server error codes the store tells apart.
const (
	codeCommandNotSupported  = 115
	codeIndexOptionsConflict = 85
	codeNotImplemented       = 238
)

func isUnsupported(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(codeNotImplemented) || se.HasErrorCode(codeCommandNotSupported))
}

// Documents. Instants are BSON dates (milliseconds, UTC); every lifetime is
// the difference of two of them, so it round-trips exactly at
// [backendkit.Precision].

type codeDoc struct {
	ID                  string        `bson:"_id"` // secret.Digest of the code
	Gen                 bson.ObjectID `bson:"gen"` // this document's incarnation; names its used-marker
	ClientID            string        `bson:"client_id"`
	GrantID             string        `bson:"grant_id,omitempty"`
	RedirectURI         string        `bson:"redirect_uri,omitempty"`
	ResponseType        string        `bson:"response_type,omitempty"`
	Scope               string        `bson:"scope,omitempty"`
	AuthTime            bson.DateTime `bson:"auth_time"`
	ExpiresAt           bson.DateTime `bson:"expires_at"`
	CodeChallenge       string        `bson:"code_challenge,omitempty"`
	CodeChallengeMethod string        `bson:"code_challenge_method,omitempty"`
	Nonce               string        `bson:"nonce,omitempty"`
	UserID              string        `bson:"user_id,omitempty"`
	Used                bool          `bson:"used"` // consumed, or its grant revoked; authoritative when set
}

// useDoc is the used-marker of a consumed code. Its _id is what makes
// consumption single-winner: see the package documentation.
type useDoc struct {
	ID        string        `bson:"_id"`  // markerID(code digest, gen)
	Code      string        `bson:"code"` // secret.Digest of the code
	ClientID  string        `bson:"client_id"`
	ExpiresAt bson.DateTime `bson:"expires_at"` // the code's
	UsedAt    bson.DateTime `bson:"used_at"`    // by the store's clock
}

type tokenDoc struct {
	ID               string         `bson:"_id"`               // secret.Digest of the access token
	Gen              bson.ObjectID  `bson:"gen"`               // this document's incarnation; names its rotation marker
	Refresh          string         `bson:"refresh,omitempty"` // secret.Digest of the refresh token; absent if none
	ClientID         string         `bson:"client_id"`
	GrantID          string         `bson:"grant_id,omitempty"`
	Scope            string         `bson:"scope,omitempty"`
	TokenType        string         `bson:"token_type"`
	UserID           string         `bson:"user_id,omitempty"`
	IssuedAt         bson.DateTime  `bson:"issued_at"`
	ExpiresAt        bson.DateTime  `bson:"expires_at"`
	RefreshExpiresAt *bson.DateTime `bson:"refresh_expires_at,omitempty"`
	PurgeAt          bson.DateTime  `bson:"purge_at"` // backendkit.PurgeAt
	Revoked          bool           `bson:"revoked"`
}

// rotationDoc is the rotation marker of a rotated refresh token. Its _id is
// what makes rotation single-winner: see the package documentation.
type rotationDoc struct {
	ID        string        `bson:"_id"` // markerID(refresh digest, gen of the old pair's document)
	GrantID   string        `bson:"grant_id,omitempty"`
	ClientID  string        `bson:"client_id"`
	Next      string        `bson:"next"`       // secret.Digest of the new pair's access token
	RotatedAt bson.DateTime `bson:"rotated_at"` // by the store's clock, rounded up to the millisecond
	ExpiresAt bson.DateTime `bson:"expires_at"` // the old pair's purge instant
	Reused    bool          `bson:"reused"`     // set by a reuse that revoked the grant
}

// markerID names the used-marker of a code, or the rotation marker of a
// refresh token, by its digest and the incarnation of the document that
// holds it.
func markerID(digest string, gen bson.ObjectID) string { return digest + "." + gen.Hex() }

func date(t time.Time) bson.DateTime { return bson.NewDateTimeFromTime(t) }

func fromDate(d bson.DateTime) time.Time { return d.Time().UTC() }

// before returns a filter value v such that, for instants stored at
// millisecond precision, "stored < v" holds exactly when stored is before t.
func before(t time.Time) bson.DateTime {
	ms := backendkit.Truncate(t)
	if !ms.Equal(t) {
		ms = ms.Add(backendkit.Precision)
	}
	return date(ms)
}

func strs[T ~string](in []T) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func typed[T ~string](in []string) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

func (d *codeDoc) code(code string) *models.AuthorizationCode {
	auth := fromDate(d.AuthTime)
	return &models.AuthorizationCode{
		Code:                code,
		ClientID:            d.ClientID,
		RedirectURI:         d.RedirectURI,
		ResponseType:        d.ResponseType,
		Scope:               d.Scope,
		AuthTime:            auth,
		ExpiresIn:           fromDate(d.ExpiresAt).Sub(auth),
		CodeChallenge:       d.CodeChallenge,
		CodeChallengeMethod: models.CodeChallengeMethod(d.CodeChallengeMethod),
		Nonce:               d.Nonce,
		UserID:              d.UserID,
		GrantID:             d.GrantID,
	}
}

func (d *tokenDoc) token() *models.Token {
	issued := fromDate(d.IssuedAt)
	t := &models.Token{
		Scope:     d.Scope,
		IssuedAt:  issued,
		ExpiresIn: fromDate(d.ExpiresAt).Sub(issued),
		ClientID:  d.ClientID,
		TokenType: d.TokenType,
		Revoked:   d.Revoked,
		UserID:    d.UserID,
		GrantID:   d.GrantID,
	}
	if d.RefreshExpiresAt != nil {
		t.RefreshTokenExpiresIn = fromDate(*d.RefreshExpiresAt).Sub(issued)
	}
	return t
}

// CreateAuthorizationCode implements [storage.AuthorizationCodeStore].
func (s *Store) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	const op = "mongostore: create authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeAuthorizationCode(c)
	if err != nil {
		return err
	}
	doc := codeDoc{
		ID:                  secret.Digest(n.Code),
		Gen:                 bson.NewObjectID(),
		ClientID:            n.ClientID,
		RedirectURI:         n.RedirectURI,
		ResponseType:        n.ResponseType,
		Scope:               n.Scope,
		AuthTime:            date(n.AuthTime),
		ExpiresAt:           date(n.ExpiresAt()),
		CodeChallenge:       n.CodeChallenge,
		CodeChallengeMethod: string(n.CodeChallengeMethod),
		Nonce:               n.Nonce,
		UserID:              n.UserID,
		GrantID:             n.GrantID,
	}
	if _, err := s.codes.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s for client %q: %w", op, n.ClientID, err)
	}
	return nil
}

// findCode returns the code document, or ErrNotFound.
func (s *Store) findCode(ctx context.Context, op, digest string) (*codeDoc, error) {
	var d codeDoc
	if err := s.codes.FindOne(ctx, bson.D{{Key: "_id", Value: digest}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &d, nil
}

// used reports whether the code document d has been consumed: flagged, or
// (if the consumer stopped before flagging it) marked.
func (s *Store) used(ctx context.Context, op string, d *codeDoc) (bool, error) {
	if d.Used {
		return true, nil
	}
	err := s.uses.FindOne(ctx, bson.D{{Key: "_id", Value: markerID(d.ID, d.Gen)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	}
	return false, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
}

// GetAuthorizationCode implements [storage.AuthorizationCodeStore]. A code is
// used if its document is flagged or its used-marker exists.
func (s *Store) GetAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "mongostore: get authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	d, err := s.findCode(ctx, op, secret.Digest(code))
	if err != nil {
		return nil, err
	}
	used, err := s.used(ctx, op, d)
	if err != nil {
		return nil, err
	}
	c := d.code(code)
	if err := backendkit.CheckCode(c, used, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// ConsumeAuthorizationCode implements [storage.AuthorizationCodeStore].
//
// The winner is the one caller whose insert of the code's used-marker
// succeeds: the marker's _id is unique, so every other insert fails with a
// duplicate key error and its caller gets [storage.ErrAlreadyUsed]. The
// winner then flags the code document used, so that later reads need one
// round trip; that write is best effort (it is not cancelled with ctx and a
// failure is ignored) because the marker alone already decides. A code
// flagged by [Store.RevokeGrant] between the winner's read and its insert
// was unusable before the winner won: the flag's former value, returned by
// that same write, says so, and the winner gets [storage.ErrAlreadyUsed].
//
// Every call that gets [storage.ErrAlreadyUsed] revokes the tokens of the
// code's grant.
func (s *Store) ConsumeAuthorizationCode(ctx context.Context, code string) (*models.AuthorizationCode, error) {
	const op = "mongostore: consume authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	d, err := s.findCode(ctx, op, secret.Digest(code))
	if err != nil {
		return nil, err
	}
	return s.consume(ctx, op, d, code, s.now())
}

// consume consumes the code document d, read at now.
func (s *Store) consume(ctx context.Context, op string, d *codeDoc, code string, now time.Time) (*models.AuthorizationCode, error) {
	c := d.code(code)
	if d.Used {
		return nil, s.replayed(ctx, op, c)
	}
	if c.IsExpiredAt(now) {
		// Used takes precedence over expired: look for a marker.
		used, err := s.used(ctx, op, d)
		if err != nil {
			return nil, err
		}
		if used {
			return nil, s.replayed(ctx, op, c)
		}
		return nil, fmt.Errorf("%s: %w", op, backendkit.CheckCode(c, false, now))
	}
	marker := useDoc{
		ID:        markerID(d.ID, d.Gen),
		Code:      d.ID,
		ClientID:  d.ClientID,
		ExpiresAt: d.ExpiresAt,
		UsedAt:    date(now),
	}
	if _, err := s.uses.InsertOne(ctx, marker); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, s.replayed(ctx, op, c)
		}
		return nil, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
	}
	fctx, cancel := detached(ctx)
	defer cancel()
	// Flag this incarnation only: the code may have been deleted and
	// created again since it was read.
	// The document before the write comes back whole: FerretDB implements
	// no projection on findAndModify.
	var was struct {
		Used bool `bson:"used"`
	}
	err := s.codes.FindOneAndUpdate(fctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "gen", Value: d.Gen}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&was)
	if err == nil && was.Used {
		// Flagged by RevokeGrant after it was read: not this caller's.
		return nil, s.replayed(ctx, op, c)
	}
	return c, nil
}

// replayed revokes the tokens of the grant of c, a used code presented
// again, and returns the [storage.ErrAlreadyUsed] error for it. The
// revocation is not cancelled with ctx: a replay is detected even if its
// caller hangs up.
func (s *Store) replayed(ctx context.Context, op string, c *models.AuthorizationCode) error {
	used := fmt.Errorf("%s: %w", op, backendkit.CheckCode(c, true, time.Time{}))
	rctx, cancel := detached(ctx)
	defer cancel()
	if err := s.revokeGrantTokens(rctx, c.GrantID); err != nil {
		return fmt.Errorf("%w; revoking the tokens of its grant: %w", used, err)
	}
	return used
}

// detached returns a context that ctx's cancellation does not reach,
// bounded by flagTimeout, for the writes that must follow a decision.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), flagTimeout)
}

// revokeGrantTokens flags every token of grantID revoked. An empty grantID
// (documents stored before grants) names no grant.
func (s *Store) revokeGrantTokens(ctx context.Context, grantID string) error {
	if grantID == "" {
		return nil
	}
	_, err := s.tokens.UpdateMany(ctx, bson.D{{Key: "grant_id", Value: grantID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	return err
}

// DeleteAuthorizationCode implements [storage.AuthorizationCodeStore]. It
// deletes the code document, then its used-markers.
func (s *Store) DeleteAuthorizationCode(ctx context.Context, code string) error {
	const op = "mongostore: delete authorization code"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	digest := secret.Digest(code)
	res, err := s.codes.DeleteOne(ctx, bson.D{{Key: "_id", Value: digest}})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Markers are keyed by the code document's incarnation, so one left
	// behind by a failure here can never mark a code created later with
	// the same value; it is purged with its expiry. Delete them even if
	// the code was already gone, to clear what an earlier failure left.
	if _, err := s.uses.DeleteMany(ctx, bson.D{{Key: "code", Value: digest}}); err != nil && res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", op, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// CreateToken implements [storage.TokenStore]. The pair is one document, so
// a taken access or refresh token rejects it whole.
func (s *Store) CreateToken(ctx context.Context, t *models.Token) error {
	const op = "mongostore: create token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeToken(t)
	if err != nil {
		return err
	}
	if _, err := s.tokens.InsertOne(ctx, newTokenDoc(&n)); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s for client %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s for client %q: %w", op, n.ClientID, err)
	}
	return nil
}

// newTokenDoc returns the document of the normalized pair n, a new
// incarnation.
func newTokenDoc(n *models.Token) *tokenDoc {
	doc := &tokenDoc{
		ID:        secret.Digest(n.AccessToken),
		Gen:       bson.NewObjectID(),
		ClientID:  n.ClientID,
		GrantID:   n.GrantID,
		Scope:     n.Scope,
		TokenType: n.TokenType,
		UserID:    n.UserID,
		IssuedAt:  date(n.IssuedAt),
		ExpiresAt: date(n.ExpiresAt()),
		PurgeAt:   date(backendkit.PurgeAt(n)),
	}
	if n.RefreshToken != "" {
		doc.Refresh = secret.Digest(n.RefreshToken)
		r := date(n.RefreshTokenExpiresAt())
		doc.RefreshExpiresAt = &r
	}
	return doc
}

// findToken returns the token document filter selects, or ErrNotFound.
func (s *Store) findToken(ctx context.Context, op string, filter bson.D) (*tokenDoc, error) {
	var d tokenDoc
	if err := s.tokens.FindOne(ctx, filter).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &d, nil
}

// GetTokenByAccess implements [storage.TokenStore]. It reads the pair's
// document alone: see the package documentation for the one case (a
// rotation that stopped half-way) in which that lets a rotated pair's
// access token live until it expires.
func (s *Store) GetTokenByAccess(ctx context.Context, accessToken string) (*models.Token, error) {
	const op = "mongostore: get token by access token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	d, err := s.findToken(ctx, op, bson.D{{Key: "_id", Value: secret.Digest(accessToken)}})
	if err != nil {
		return nil, err
	}
	t := d.token()
	if err := backendkit.CheckAccess(t, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t.AccessToken = accessToken
	return t, nil
}

// GetTokenByRefresh implements [storage.TokenStore]. A pair is revoked if
// its document is flagged or, for its refresh token, if its rotation
// marker exists.
func (s *Store) GetTokenByRefresh(ctx context.Context, refreshToken string) (*models.Token, error) {
	const op = "mongostore: get token by refresh token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	d, err := s.findToken(ctx, op, bson.D{{Key: "refresh", Value: secret.Digest(refreshToken)}})
	if err != nil {
		return nil, err
	}
	t := d.token()
	if !t.Revoked {
		m, err := s.findRotation(ctx, op, d)
		if err != nil {
			return nil, err
		}
		t.Revoked = m != nil
	}
	if err := backendkit.CheckRefresh(t, s.now()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t.RefreshToken = refreshToken
	return t, nil
}

// findRotation returns the rotation marker of the pair of document d, or
// nil if it has none.
func (s *Store) findRotation(ctx context.Context, op string, d *tokenDoc) (*rotationDoc, error) {
	var m rotationDoc
	err := s.rotations.FindOne(ctx, bson.D{{Key: "_id", Value: markerID(d.Refresh, d.Gen)}}).Decode(&m)
	switch {
	case err == nil:
		return &m, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil
	}
	return nil, fmt.Errorf("%s of client %q: reading the rotation marker: %w", op, d.ClientID, err)
}

// RevokeToken implements [storage.TokenStore]. token is looked up as an
// access token first, then as a refresh token; the pair's one document is
// flagged revoked. It is idempotent, so no single winner is needed.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	const op = "mongostore: revoke token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	digest := secret.Digest(token)
	revoke := bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}}
	filters := []bson.D{{{Key: "_id", Value: digest}}}
	if token != "" {
		filters = append(filters, bson.D{{Key: "refresh", Value: digest}})
	}
	// A value may be one pair's access token and another's refresh token:
	// both pairs are revoked.
	matched := false
	for _, f := range filters {
		res, err := s.tokens.UpdateOne(ctx, f, revoke)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		matched = matched || res.MatchedCount > 0
	}
	if !matched {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// RotateToken implements [storage.TokenStore] without a transaction, in
// three writes: the insert of a rotation marker decides the one winner, the
// new pair is inserted, the old pair is flagged revoked. See the package
// documentation for the steps, the races between them and what a crash in
// between leaves.
func (s *Store) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	const op = "mongostore: rotate token"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	n, err := backendkit.NormalizeSuccessor(next)
	if err != nil {
		return err
	}
	if refreshToken == "" {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	byRefresh := bson.D{{Key: "refresh", Value: secret.Digest(refreshToken)}}
	for attempt := 1; ; attempt++ {
		d, err := s.findToken(ctx, op, byRefresh)
		if err != nil {
			return err
		}
		now := s.now()
		m, err := s.claimRotation(ctx, op, d, n, now)
		if err != nil || m != nil {
			return err
		}
		// Lost the race: the marker another rotation inserted names the
		// rotated pair. If it is gone, that rotation was undone (its new
		// pair was rejected): look again.
		if m, err = s.findRotation(ctx, op, d); err != nil {
			return err
		}
		if m == nil && attempt < rotateAttempts {
			continue
		}
		return s.reused(ctx, op, d, m, now)
	}
}

// claimRotation takes the decisions of a rotation of the pair of document
// d at now to the pair n (normalized), and inserts the rotation marker. It
// returns nil, nil if another caller's marker was there: this caller lost.
// Otherwise it finishes the rotation ([Store.finishRotation]) and returns
// the marker, or returns the error that ends the call: a reuse, an expiry,
// a mismatch or a failure.
func (s *Store) claimRotation(ctx context.Context, op string, d *tokenDoc, n models.Token, now time.Time) (*rotationDoc, error) {
	old := d.token()
	if old.Revoked {
		m, err := s.findRotation(ctx, op, d)
		if err != nil {
			return nil, err
		}
		return nil, s.reused(ctx, op, d, m, now)
	}
	if err := backendkit.CheckRefresh(old, now); err != nil {
		// Revoked takes precedence over expired: a rotation that stopped
		// before flagging the pair left only its marker.
		m, ferr := s.findRotation(ctx, op, d)
		if ferr != nil {
			return nil, ferr
		}
		if m != nil {
			return nil, s.reused(ctx, op, d, m, now)
		}
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	if err := backendkit.Successor(old, &n); err != nil {
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	if n.GrantID == "" {
		// The old pair was stored before grants: its successor starts one.
		n.GrantID = backendkit.NewGrantID()
	}
	nd := newTokenDoc(&n)
	m := newRotation(d, nd, now)
	if _, err := s.rotations.InsertOne(ctx, m); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s of client %q: %w", op, d.ClientID, err)
	}
	return m, s.finishRotation(ctx, op, d, m, nd)
}

// newRotation returns the rotation marker of the replacement at now of the
// pair of document d by the pair of document nd.
func newRotation(d, nd *tokenDoc, now time.Time) *rotationDoc {
	return &rotationDoc{
		ID:        markerID(d.Refresh, d.Gen),
		GrantID:   nd.GrantID,
		ClientID:  d.ClientID,
		Next:      nd.ID,
		RotatedAt: date(ceilMillis(now)),
		ExpiresAt: d.PurgeAt,
	}
}

// ceilMillis rounds t up to the millisecond, the precision of BSON dates:
// a reuse interval measured from the stored instant is never shortened.
func ceilMillis(t time.Time) time.Time {
	return time.UnixMilli(backendkit.CeilMillis(t)).UTC()
}

// finishRotation is the rest of the rotation whose marker m the caller
// inserted, replacing the pair of document d by the pair of document nd:
// it inserts nd (or, if a credential of nd is taken, deletes m again and
// fails with [storage.ErrAlreadyExists]), flags d revoked, and reads m
// again: a caller that lost the race and flagged m reused may have revoked
// the grant before nd was inserted, so the grant is revoked again. It is
// not cancelled with ctx: the rotation was decided.
func (s *Store) finishRotation(ctx context.Context, op string, d *tokenDoc, m *rotationDoc, nd *tokenDoc) error {
	fctx, cancel := detached(ctx)
	defer cancel()
	if _, err := s.tokens.InsertOne(fctx, nd); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			// nd may have been written: the marker stays, so the old
			// refresh token is spent either way.
			return fmt.Errorf("%s for client %q: storing the new pair: %w", op, d.ClientID, err)
		}
		// Nothing of nd was written: undo the marker, the old pair is
		// untouched.
		if _, derr := s.rotations.DeleteOne(fctx, bson.D{{Key: "_id", Value: m.ID}}); derr != nil {
			return fmt.Errorf("%s for client %q: %w (the refresh token is spent: removing its rotation marker failed: %v)", op, d.ClientID, storage.ErrAlreadyExists, derr)
		}
		return fmt.Errorf("%s for client %q: %w", op, d.ClientID, storage.ErrAlreadyExists)
	}
	// Best effort: the marker already makes the old refresh token revoked.
	// The filter names the pair by both its credentials.
	_, _ = s.tokens.UpdateOne(fctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "refresh", Value: d.Refresh}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	cur, err := s.findRotation(fctx, op, d)
	if err != nil {
		return err
	}
	if cur != nil && cur.Reused {
		if err := s.revokeGrantTokens(fctx, nd.GrantID); err != nil {
			return fmt.Errorf("%s for client %q: refresh token reused during the rotation; revoking its grant: %w", op, d.ClientID, err)
		}
	}
	return nil
}

// reused handles the reuse at now of the refresh token of document d,
// rotated by marker m (nil if the pair was revoked, not rotated): within
// the reuse interval after a rotation it changes nothing; otherwise it
// flags m reused and revokes every token of the grant. Either way it
// returns an error matching [storage.ErrRevoked]. The writes are not
// cancelled with ctx: a reuse is acted upon even if its caller hangs up.
func (s *Store) reused(ctx context.Context, op string, d *tokenDoc, m *rotationDoc, now time.Time) error {
	var rotatedAt time.Time
	if m != nil {
		rotatedAt = fromDate(m.RotatedAt)
	}
	if backendkit.ReuseWithinInterval(rotatedAt, s.reuse, now) {
		return fmt.Errorf("mongostore: %w", backendkit.ReuseError(d.ClientID, false))
	}
	rctx, cancel := detached(ctx)
	defer cancel()
	grant := d.GrantID
	if m != nil {
		if _, err := s.rotations.UpdateOne(rctx, bson.D{{Key: "_id", Value: m.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "reused", Value: true}}}}); err != nil {
			return fmt.Errorf("%s of client %q: refresh token reused (%w); flagging its rotation: %w", op, d.ClientID, storage.ErrRevoked, err)
		}
		if grant == "" {
			grant = m.GrantID // a pair stored before grants: its successor's
		}
	}
	if err := s.revokeGrantTokens(rctx, grant); err != nil {
		return fmt.Errorf("%s of client %q: refresh token reused (%w); revoking its grant: %w", op, d.ClientID, storage.ErrRevoked, err)
	}
	return fmt.Errorf("mongostore: %w", backendkit.ReuseError(d.ClientID, true))
}

// RevokeGrant implements [storage.Storage]: it flags the grant's codes used
// (a flag that decides on its own, whatever the used-markers say) and its
// tokens revoked, with one UpdateMany each. It is idempotent; a failure
// part-way is mended by calling it again.
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	const op = "mongostore: revoke grant"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return err
	}
	if !backendkit.LookupID(grantID) {
		// Never stored, and a server may refuse such a value (FerretDB on
		// PostgreSQL rejects NUL) instead of finding nothing.
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	byGrant := bson.D{{Key: "grant_id", Value: grantID}}
	codes, err := s.codes.UpdateMany(ctx, byGrant, bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: codes: %w", op, grantID, err)
	}
	tokens, err := s.tokens.UpdateMany(ctx, byGrant, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: tokens: %w", op, grantID, err)
	}
	if codes.MatchedCount == 0 && tokens.MatchedCount == 0 {
		return fmt.Errorf("%s %q: %w", op, grantID, storage.ErrNotFound)
	}
	return nil
}

// PurgeExpired implements [storage.Storage], by the store's clock: it
// deletes codes and their used-markers whose expiry is before now, and
// tokens and their rotation markers whose purge instant ([backendkit.PurgeAt])
// is. The count covers codes and tokens; markers are part of their code or
// token.
//
// Each collection is purged in batches of at most [WithPurgeBatchSize]
// documents: the _ids of expired documents are read, then deleted a batch
// at a time by _id, with the expiry checked again so that a document
// changed in between (a code deleted and created again) is kept. ctx is
// checked between batches; on an error the count is what was deleted
// until then.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	const op = "mongostore: purge expired"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return 0, err
	}
	cut := before(s.now())
	codes, err := s.purge(ctx, s.codes, "expires_at", cut)
	if err != nil {
		return codes, fmt.Errorf("%s: codes: %w", op, err)
	}
	// Markers go after their codes: a code whose marker is gone but whose
	// used flag is missing is expired, so it still cannot be consumed.
	if _, err := s.purge(ctx, s.uses, "expires_at", cut); err != nil {
		return codes, fmt.Errorf("%s: used-markers: %w", op, err)
	}
	tokens, err := s.purge(ctx, s.tokens, "purge_at", cut)
	if err != nil {
		return codes + tokens, fmt.Errorf("%s: tokens: %w", op, err)
	}
	// Rotation markers after their tokens, for the same reason: a pair
	// whose marker is gone is past its refresh expiry.
	if _, err := s.purge(ctx, s.rotations, "expires_at", cut); err != nil {
		return codes + tokens, fmt.Errorf("%s: rotation markers: %w", op, err)
	}
	return codes + tokens, nil
}

// [Store.purge] reads the _ids of up to purgeRound batches with one find,
// but no more than purgeRoundMax _ids unless one batch is larger.
const (
	purgeRound    = 64
	purgeRoundMax = 1 << 16
)

// purge deletes the documents of c whose field is before cut, at most
// s.purgeBatch per DeleteMany, and returns how many it deleted.
//
// Each round finds the _ids of up to purgeRound batches of expired
// documents (purgeRoundMax at most, or one batch), with one query on the
// expiry index where the server has one, sorts them and deletes them a batch at a time, with the expiry again and
// both the batch's _id range and its _id list: the list bounds what one
// statement removes, and the range lets servers that evaluate filters in
// memory (FerretDB, whose $in is a linear search) skip every other
// document cheaply. Rounds go on until a find comes back short.
func (s *Store) purge(ctx context.Context, c *mongo.Collection, field string, cut bson.DateTime) (int64, error) {
	expired := bson.E{Key: field, Value: bson.D{{Key: "$lt", Value: cut}}}
	round := min(max(s.purgeBatch, min(s.purgeBatch, purgeRoundMax/purgeRound)*purgeRound), math.MaxInt32)
	find := options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(round)).
		SetBatchSize(int32(round))
	var deleted int64
	for {
		cur, err := c.Find(ctx, bson.D{expired}, find)
		if err != nil {
			return deleted, err
		}
		var ids []bson.RawValue
		for cur.Next(ctx) {
			id, err := cur.Current.LookupErr("_id")
			if err != nil {
				_ = cur.Close(ctx)
				return deleted, err
			}
			ids = append(ids, id)
		}
		err = cur.Err()
		_ = cur.Close(ctx)
		if err != nil {
			return deleted, err
		}
		// The store's _ids are all strings; sorted, a batch is a range.
		ranged := true
		for _, id := range ids {
			if id.Type != bson.TypeString {
				ranged = false
				break
			}
		}
		if ranged {
			slices.SortFunc(ids, func(a, b bson.RawValue) int { return strings.Compare(a.StringValue(), b.StringValue()) })
		}
		for start := 0; start < len(ids); start += s.purgeBatch {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			batch := ids[start:min(start+s.purgeBatch, len(ids))]
			byID := bson.D{}
			if ranged {
				byID = append(byID,
					bson.E{Key: "$gte", Value: batch[0]},
					bson.E{Key: "$lte", Value: batch[len(batch)-1]})
			}
			byID = append(byID, bson.E{Key: "$in", Value: batch})
			// The expiry again, first: a document changed since the find
			// (a code deleted and created again with the same value) is
			// not deleted, and live documents are ruled out cheaply.
			res, err := c.DeleteMany(ctx, bson.D{expired, {Key: "_id", Value: byID}})
			if err != nil {
				return deleted, err
			}
			deleted += res.DeletedCount
		}
		if len(ids) < round {
			return deleted, nil
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
	}
}
