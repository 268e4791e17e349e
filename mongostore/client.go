package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// rotateSecretAttempts bounds how many times [Store.RotateClientSecret]
// reads the client again when its conditional write found the secret
// changed since the read (another rotation or a removal came in between).
const rotateSecretAttempts = 8

// markerBatch is how many marker _ids [Store.Stats] looks up per query.
const markerBatch = 1000

// clientDoc is the document of a client. The secret fields are written
// only by CreateClient, RotateClientSecret and RemoveClientSecrets;
// UpdateClient writes only the registration fields.
type clientDoc struct {
	ID            string         `bson:"_id"`
	SecretHash    string         `bson:"secret_hash,omitempty"`           // current secret; absent for a public client
	PreviousHash  string         `bson:"previous_secret_hash,omitempty"`  // the secret the last rotation replaced
	PreviousUntil *bson.DateTime `bson:"previous_secret_until,omitempty"` // until when (inclusive) it still authenticates
	GrantTypes    []string       `bson:"grant_types"`
	ResponseTypes []string       `bson:"response_types"`
	RedirectURIs  []string       `bson:"redirect_uris"`
	Scope         string         `bson:"scope,omitempty"`
	UserID        string         `bson:"user_id,omitempty"`
}

// secrets returns what the document keeps of the client's secrets.
func (d *clientDoc) secrets() backendkit.Secrets {
	s := backendkit.Secrets{Hash: d.SecretHash, PreviousHash: d.PreviousHash}
	if d.PreviousUntil != nil {
		s.PreviousUntil = fromDate(*d.PreviousUntil)
	}
	return s
}

// client returns the client as the store returns it at now: with its
// SecretHash, and PreviousSecretValidUntil while the previous secret is
// valid.
func (d *clientDoc) client(now time.Time) *models.Client {
	c := &models.Client{
		ClientID:      d.ID,
		SecretHash:    d.SecretHash,
		GrantTypes:    typed[models.GrantType](d.GrantTypes),
		ResponseTypes: typed[models.ResponseType](d.ResponseTypes),
		RedirectURIs:  d.RedirectURIs,
		Scope:         d.Scope,
		UserID:        d.UserID,
	}
	if s := d.secrets(); s.PreviousValid(now) {
		c.PreviousSecretValidUntil = s.PreviousUntil
	}
	return c
}

// registrationUpdate is the update of [Store.UpdateClient]: the
// registration fields of the normalized client n, set, or unset when
// empty; never a secret field.
func registrationUpdate(n *models.Client) bson.D {
	set := bson.D{
		{Key: "grant_types", Value: strs(n.GrantTypes)},
		{Key: "response_types", Value: strs(n.ResponseTypes)},
		{Key: "redirect_uris", Value: n.RedirectURIs},
	}
	var unset bson.D
	for _, f := range []struct{ key, value string }{{"scope", n.Scope}, {"user_id", n.UserID}} {
		if f.value != "" {
			set = append(set, bson.E{Key: f.key, Value: f.value})
		} else {
			unset = append(unset, bson.E{Key: f.key, Value: ""})
		}
	}
	u := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		u = append(u, bson.E{Key: "$unset", Value: unset})
	}
	return u
}

// secretsUpdate is the update that gives a client document the secrets s.
func secretsUpdate(s backendkit.Secrets) bson.D {
	var set, unset bson.D
	if s.Hash != "" {
		set = append(set, bson.E{Key: "secret_hash", Value: s.Hash})
	} else {
		unset = append(unset, bson.E{Key: "secret_hash", Value: ""})
	}
	if s.PreviousHash != "" {
		set = append(set,
			bson.E{Key: "previous_secret_hash", Value: s.PreviousHash},
			bson.E{Key: "previous_secret_until", Value: date(s.PreviousUntil)})
	} else {
		unset = append(unset,
			bson.E{Key: "previous_secret_hash", Value: ""},
			bson.E{Key: "previous_secret_until", Value: ""})
	}
	var u bson.D
	if len(set) > 0 {
		u = append(u, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		u = append(u, bson.E{Key: "$unset", Value: unset})
	}
	return u
}

// hashIs is the condition that the client document's current secret hash
// is still h (absent for a public client).
func hashIs(h string) bson.E {
	if h == "" {
		return bson.E{Key: "secret_hash", Value: bson.D{{Key: "$exists", Value: false}}}
	}
	return bson.E{Key: "secret_hash", Value: h}
}

// CreateClient implements [storage.ClientStore]. The secret is hashed with
// the store's hasher ([WithHasher]).
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	const op = "mongostore: create client"
	n, err := backendkit.StartCreateClient(ctx, op, c)
	if err != nil {
		return err
	}
	secrets, err := s.auth.SecretsOf(ctx, op, &n)
	if err != nil {
		return err
	}
	doc := clientDoc{
		SecretHash:    secrets.Hash,
		ID:            n.ClientID,
		GrantTypes:    strs(n.GrantTypes),
		ResponseTypes: strs(n.ResponseTypes),
		RedirectURIs:  n.RedirectURIs,
		Scope:         n.Scope,
		UserID:        n.UserID,
	}
	if _, err := s.clients.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%s %q: %w", op, n.ClientID, storage.ErrAlreadyExists)
		}
		return fmt.Errorf("%s %q: %w", op, n.ClientID, err)
	}
	return nil
}

// findClient returns the document of the client, or an error wrapping
// [storage.ErrNotFound]; a client ID that could never be stored
// ([backendkit.LookupID]) is not looked up. projection, if not nil, limits
// the fields read.
func (s *Store) findClient(ctx context.Context, op, clientID string, projection bson.D) (*clientDoc, error) {
	if !backendkit.LookupID(clientID) {
		return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
	}
	opts := options.FindOne()
	if projection != nil {
		opts.SetProjection(projection)
	}
	var d clientDoc
	if err := s.clients.FindOne(ctx, bson.D{{Key: "_id", Value: clientID}}, opts).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s %q: %w", op, clientID, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("%s %q: %w", op, clientID, err)
	}
	return &d, nil
}

// GetClient implements [storage.ClientStore].
func (s *Store) GetClient(ctx context.Context, clientID string) (*models.Client, error) {
	const op = "mongostore: get client"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	d, err := s.findClient(ctx, op, clientID, nil)
	if err != nil {
		return nil, err
	}
	return d.client(s.now()), nil
}

// AuthenticateClient implements [storage.ClientStore] with
// [backendkit.ClientAuth]: the current secret, or the previous one until
// its overlap ends by the store's clock. An unknown or public client costs
// a slow hash too, so the time of a failure does not tell which clients
// exist.
func (s *Store) AuthenticateClient(ctx context.Context, clientID, clientSecret string) (*models.Client, error) {
	const op = "mongostore: authenticate client"
	return s.auth.Authenticate(ctx, op, clientID, clientSecret, s.now,
		func(now time.Time) (*models.Client, backendkit.Secrets, bool, error) {
			d, err := s.findClient(ctx, op, clientID, nil)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				return nil, backendkit.Secrets{}, false, nil
			case err != nil:
				return nil, backendkit.Secrets{}, false, err
			}
			return d.client(now), d.secrets(), true, nil
		})
}

// DeleteClient implements [storage.ClientStore] without a transaction: it
// deletes the client's codes, their used-markers, its tokens and their
// rotation markers, then the client. See the package documentation for why
// in that order and what a failure in between leaves.
func (s *Store) DeleteClient(ctx context.Context, clientID string) error {
	const op = "mongostore: delete client"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	byClient := bson.D{{Key: "client_id", Value: clientID}}
	// Markers after what they mark: a token whose rotation marker is gone
	// but which was not flagged revoked would read live again.
	for _, c := range []*mongo.Collection{s.codes, s.uses, s.tokens, s.rotations} {
		if _, err := c.DeleteMany(ctx, byClient); err != nil {
			return fmt.Errorf("%s %q: deleting from %s: %w", op, clientID, c.Name(), err)
		}
	}
	res, err := s.clients.DeleteOne(ctx, bson.D{{Key: "_id", Value: clientID}})
	if err != nil {
		return backendkit.ClientWritten(op, clientID, 0, err)
	}
	return backendkit.ClientWritten(op, clientID, res.DeletedCount, nil)
}

// UpdateClient implements [storage.ClientManager] with one UpdateOne by
// _id that sets the registration fields and touches no secret field.
func (s *Store) UpdateClient(ctx context.Context, c *models.Client) error {
	const op = "mongostore: update client"
	n, err := backendkit.StartUpdateClient(ctx, op, c)
	if err != nil {
		return err
	}
	res, err := s.clients.UpdateOne(ctx, bson.D{{Key: "_id", Value: n.ClientID}}, registrationUpdate(&n))
	return backendkit.ClientWritten(op, n.ClientID, matched(res), err)
}

// matched is the number of documents an update matched; 0 if it failed.
func matched(res *mongo.UpdateResult) int64 {
	if res == nil {
		return 0
	}
	return res.MatchedCount
}

// RotateClientSecret implements [storage.ClientManager]. The new secret is
// hashed before the client is looked up. The client's secrets are read,
// and the rotated ones written with one UpdateOne conditional on the
// current hash being the one read; if it changed in between, the client is
// read again, a few times at most. See the package documentation for what
// that guarantees under concurrent rotations of one client.
func (s *Store) RotateClientSecret(ctx context.Context, clientID, newSecret string, previousValidUntil time.Time) error {
	const op = "mongostore: rotate client secret"
	h, err := s.auth.HashNewSecret(ctx, op, clientID, newSecret)
	if err != nil {
		return err
	}
	secretsOnly := bson.D{
		{Key: "secret_hash", Value: 1},
		{Key: "previous_secret_hash", Value: 1},
		{Key: "previous_secret_until", Value: 1},
	}
	for range rotateSecretAttempts {
		d, err := s.findClient(ctx, op, clientID, secretsOnly)
		if err != nil {
			return err
		}
		old := d.secrets()
		next := backendkit.RotateSecrets(old, h, previousValidUntil)
		res, err := s.clients.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: clientID}, hashIs(old.Hash)},
			secretsUpdate(next))
		if err != nil {
			return fmt.Errorf("%s %q: %w", op, clientID, err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		// The secret changed since the read, or the client is gone: the
		// next read tells.
	}
	return fmt.Errorf("%s %q: the client's secret kept changing during %d attempts; nothing was written", op, clientID, rotateSecretAttempts)
}

// RemoveClientSecrets implements [storage.ClientManager] with one UpdateOne
// by _id that unsets the current and previous secret.
func (s *Store) RemoveClientSecrets(ctx context.Context, clientID string) error {
	const op = "mongostore: remove client secrets"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	res, err := s.clients.UpdateOne(ctx, bson.D{{Key: "_id", Value: clientID}}, secretsUpdate(backendkit.Secrets{}))
	return backendkit.ClientWritten(op, clientID, matched(res), err)
}

// ListClients implements [storage.ClientManager] by keyset pagination on
// _id (the client ID; MongoDB compares strings bytewise): one find of
// _id > q.After (and user_id = q.UserID, on the {user_id, _id} index),
// sorted by _id, limited to one more client than the page holds, which
// tells whether a next page exists.
func (s *Store) ListClients(ctx context.Context, q storage.ClientQuery) (storage.ClientPage, error) {
	const op = "mongostore: list clients"
	limit, err := backendkit.StartList(ctx, op, q)
	if err != nil {
		return storage.ClientPage{}, err
	}
	filter := bson.D{}
	if q.UserID != "" {
		filter = append(filter, bson.E{Key: "user_id", Value: q.UserID})
	}
	if q.After != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After}}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(limit) + 1)
	cur, err := s.clients.Find(ctx, filter, opts)
	if err != nil {
		return storage.ClientPage{}, fmt.Errorf("%s: %w", op, err)
	}
	var docs []clientDoc
	if err := cur.All(ctx, &docs); err != nil {
		return storage.ClientPage{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.now()
	var page storage.ClientPage
	for i := range docs {
		if i == limit {
			page.Next = docs[limit-1].ID
			break
		}
		page.Clients = append(page.Clients, docs[i].client(now))
	}
	return page, nil
}

// RevokeClientTokens implements [storage.ClientManager]: it flags the
// client's codes used and its tokens revoked, one UpdateMany by client_id
// each, as [Store.RevokeGrant] does for a grant. It is idempotent; a
// failure part-way is mended by calling it again.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string) error {
	const op = "mongostore: revoke client tokens"
	if err := backendkit.StartByID(ctx, op, clientID); err != nil {
		return err
	}
	byClient := bson.D{{Key: "client_id", Value: clientID}}
	codes, err := s.codes.UpdateMany(ctx, byClient, bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: codes: %w", op, clientID, err)
	}
	tokens, err := s.tokens.UpdateMany(ctx, byClient, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	if err != nil {
		return fmt.Errorf("%s %q: tokens: %w", op, clientID, err)
	}
	if codes.MatchedCount > 0 || tokens.MatchedCount > 0 {
		return nil
	}
	// Nothing to revoke: fine if the client is registered.
	_, err = s.findClient(ctx, op, clientID, bson.D{{Key: "_id", Value: 1}})
	return err
}

// Stats implements [storage.StatsReporter] by reading every code and token
// document (only the fields that decide its state), by the store's clock
// at the start of the call. A code or token not flagged used or revoked
// whose marker exists (a consumption or rotation that stopped before
// flagging it) counts as used or revoked: its markers are looked up by
// _id, a batch at a time.
func (s *Store) Stats(ctx context.Context) (*storage.Stats, error) {
	const op = "mongostore: stats"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	n, err := s.clients.CountDocuments(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("%s: clients: %w", op, err)
	}
	var tally backendkit.Tally
	if err := s.countCodes(ctx, now, &tally); err != nil {
		return nil, fmt.Errorf("%s: codes: %w", op, err)
	}
	if err := s.countTokens(ctx, now, &tally); err != nil {
		return nil, fmt.Errorf("%s: tokens: %w", op, err)
	}
	return tally.Stats(n), nil
}

// pendingMarks collects records whose state depends on whether their
// marker (in coll) exists, and settles them a batch at a time.
type pendingMarks struct {
	coll   *mongo.Collection
	ids    []string
	settle []func(marked bool)
}

func (p *pendingMarks) add(ctx context.Context, markerID string, settle func(marked bool)) error {
	p.ids = append(p.ids, markerID)
	p.settle = append(p.settle, settle)
	if len(p.ids) >= markerBatch {
		return p.flush(ctx)
	}
	return nil
}

// flush looks the pending markers up and settles every pending record.
func (p *pendingMarks) flush(ctx context.Context) error {
	if len(p.ids) == 0 {
		return nil
	}
	cur, err := p.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: p.ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("reading markers: %w", err)
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return fmt.Errorf("reading markers: %w", err)
	}
	marked := make(map[string]bool, len(found))
	for _, f := range found {
		marked[f.ID] = true
	}
	for i, id := range p.ids {
		p.settle[i](marked[id])
	}
	p.ids, p.settle = p.ids[:0], p.settle[:0]
	return nil
}

// countCodes counts every code document in its state at now.
func (s *Store) countCodes(ctx context.Context, now time.Time, tally *backendkit.Tally) error {
	cur, err := s.codes.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "gen", Value: 1}, {Key: "client_id", Value: 1},
		{Key: "auth_time", Value: 1}, {Key: "expires_at", Value: 1}, {Key: "used", Value: 1},
	}))
	if err != nil {
		return err
	}
	defer func() { _ = cur.Close(ctx) }()
	pending := pendingMarks{coll: s.uses}
	for cur.Next(ctx) {
		var d codeDoc
		if err := cur.Decode(&d); err != nil {
			return err
		}
		c := d.code("")
		if d.Used {
			backendkit.CountCode(tally.Of(d.ClientID), c, true, now)
			continue
		}
		if err := pending.add(ctx, markerID(d.ID, d.Gen), func(used bool) {
			backendkit.CountCode(tally.Of(c.ClientID), c, used, now)
		}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return pending.flush(ctx)
}

// countTokens counts every token document in its state at now.
func (s *Store) countTokens(ctx context.Context, now time.Time, tally *backendkit.Tally) error {
	cur, err := s.tokens.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "gen", Value: 1}, {Key: "refresh", Value: 1}, {Key: "client_id", Value: 1},
		{Key: "issued_at", Value: 1}, {Key: "expires_at", Value: 1}, {Key: "refresh_expires_at", Value: 1},
		{Key: "revoked", Value: 1},
	}))
	if err != nil {
		return err
	}
	defer func() { _ = cur.Close(ctx) }()
	pending := pendingMarks{coll: s.rotations}
	for cur.Next(ctx) {
		var d tokenDoc
		if err := cur.Decode(&d); err != nil {
			return err
		}
		t := d.token()
		if t.Revoked || d.Refresh == "" {
			backendkit.CountToken(tally.Of(t.ClientID), t, now)
			continue
		}
		if err := pending.add(ctx, markerID(d.Refresh, d.Gen), func(rotated bool) {
			t.Revoked = rotated
			backendkit.CountToken(tally.Of(t.ClientID), t, now)
		}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return pending.flush(ctx)
}
