package mongostore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// These tests put the database in the states a rotation that stopped
// half-way leaves (marker without new pair; new pair without the old one
// flagged), and in the interleavings of a winner and its losers that a
// race can produce, by running the winner's steps one at a time.

const testGrant = "grant-rotate-crash"

// pair returns a pair of client "c" in testGrant, issued at crashT0, its
// access token valid for an hour and its refresh token for a day.
func pair(name string) *models.Token {
	return &models.Token{
		AccessToken: "access-" + name, RefreshToken: "refresh-" + name, ClientID: "c", GrantID: testGrant,
		IssuedAt: crashT0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour,
	}
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// createPair stores tok and returns its document.
func createPair(t *testing.T, s *Store, tok *models.Token) *tokenDoc {
	t.Helper()
	mustT(t, s.CreateToken(t.Context(), tok))
	d, err := s.findToken(t.Context(), "test", bson.D{{Key: "_id", Value: secret.Digest(tok.AccessToken)}})
	mustT(t, err)
	return d
}

// startRotation performs the first step of a rotation of the pair of
// document d to next at the store's now, as claimRotation does: it inserts
// the marker. It returns the marker and the new pair's document, not
// inserted.
func startRotation(t *testing.T, s *Store, d *tokenDoc, next *models.Token, now time.Time) (*rotationDoc, *tokenDoc) {
	t.Helper()
	n, err := backendkit.NormalizeSuccessor(next)
	mustT(t, err)
	mustT(t, backendkit.Successor(d.token(), &n))
	nd := s.newTokenDoc(&n)
	m := newRotation(d, nd, now)
	_, err = s.rotations.InsertOne(t.Context(), m)
	mustT(t, err)
	return m, nd
}

func getMarker(t *testing.T, s *Store, d *tokenDoc) *rotationDoc {
	t.Helper()
	m, err := s.findRotation(t.Context(), "test", d)
	mustT(t, err)
	return m
}

// live checks that tok reads live by both its credentials.
func live(t *testing.T, s *Store, tok *models.Token, what string) {
	t.Helper()
	if _, err := s.GetTokenByAccess(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("GetTokenByAccess of %s: %v", what, err)
	}
	if tok.RefreshToken != "" {
		if _, err := s.GetTokenByRefresh(t.Context(), tok.RefreshToken); err != nil {
			t.Errorf("GetTokenByRefresh of %s: %v", what, err)
		}
	}
}

// revoked checks that tok reads revoked by both its credentials.
func revoked(t *testing.T, s *Store, tok *models.Token, what string) {
	t.Helper()
	_, err := s.GetTokenByAccess(t.Context(), tok.AccessToken)
	wantErr(t, "GetTokenByAccess of "+what, err, storage.ErrRevoked)
	if tok.RefreshToken != "" {
		_, err = s.GetTokenByRefresh(t.Context(), tok.RefreshToken)
		wantErr(t, "GetTokenByRefresh of "+what, err, storage.ErrRevoked)
	}
}

// notStored checks that nothing of tok was written.
func notStored(t *testing.T, s *Store, tok *models.Token, what string) {
	t.Helper()
	_, err := s.GetTokenByAccess(t.Context(), tok.AccessToken)
	wantErr(t, "GetTokenByAccess of "+what, err, storage.ErrNotFound)
	_, err = s.GetTokenByRefresh(t.Context(), tok.RefreshToken)
	wantErr(t, "GetTokenByRefresh of "+what, err, storage.ErrNotFound)
}

// A rotation stopped after inserting its marker: no new pair, the old one
// not flagged. The marker alone makes the old refresh token revoked, and
// its next use a reuse.
func TestRotationMarkedOnly(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	old, sibling := pair("marked-only"), pair("marked-only-sibling")
	d := createPair(t, s, old)
	createPair(t, s, sibling)
	_, nd := startRotation(t, s, d, pair("marked-only-next"), *now)
	if !errors.Is(s.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: nd.ID}}).Err(), mongo.ErrNoDocuments) {
		t.Fatal("the new pair was inserted")
	}

	_, err := s.GetTokenByRefresh(ctx, old.RefreshToken)
	wantErr(t, "GetTokenByRefresh of the marked refresh token", err, storage.ErrRevoked)
	live(t, s, sibling, "another pair of the grant")

	retry := pair("marked-only-retry")
	err = s.RotateToken(ctx, old.RefreshToken, retry)
	wantErr(t, "RotateToken with the marked refresh token", err, storage.ErrRevoked)
	notStored(t, s, retry, "the pair of a rotation refused as a reuse")
	revoked(t, s, sibling, "another pair of the grant, after the reuse")
	revoked(t, s, old, "the marked pair, after the reuse") // flagged now
	if m := getMarker(t, s, d); m == nil || !m.Reused {
		t.Errorf("marker after the reuse = %+v, want it flagged reused", m)
	}
}

// Revoked takes precedence over expired: a marked pair whose refresh token
// has expired since is still a reuse, not ErrExpired.
func TestRotationMarkedThenExpired(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	old, sibling := pair("marked-expired"), pair("marked-expired-sibling")
	sibling.ExpiresIn = 48 * time.Hour
	d := createPair(t, s, old)
	createPair(t, s, sibling)
	startRotation(t, s, d, pair("marked-expired-next"), *now)
	*now = now.Add(24*time.Hour + time.Millisecond)
	_, err := s.GetTokenByRefresh(ctx, old.RefreshToken)
	wantErr(t, "GetTokenByRefresh of a marked, expired refresh token", err, storage.ErrRevoked)
	err = s.RotateToken(ctx, old.RefreshToken, pair("marked-expired-retry"))
	wantErr(t, "RotateToken with a marked, expired refresh token", err, storage.ErrRevoked)
	_, err = s.GetTokenByAccess(ctx, sibling.AccessToken)
	wantErr(t, "GetTokenByAccess of another pair of the grant", err, storage.ErrRevoked)

	// Without a marker, an expired pair is ErrExpired and nothing changes.
	plain := pair("expired-unmarked")
	plain.GrantID = "grant-other"
	createPair(t, s, plain)
	*now = now.Add(24 * time.Hour)
	err = s.RotateToken(ctx, plain.RefreshToken, pair("expired-unmarked-next"))
	wantErr(t, "RotateToken with an expired, unmarked refresh token", err, storage.ErrExpired)
	if n, err := s.rotations.CountDocuments(ctx, bson.D{{Key: "client_id", Value: "c"}, {Key: "grant_id", Value: "grant-other"}}); err != nil || n != 0 {
		t.Errorf("markers after rotating an expired pair: %d, %v", n, err)
	}
}

// Within the reuse interval, the leftover marker still spends the refresh
// token, without revoking the grant; after it, a replay revokes the grant.
func TestRotationMarkedOnlyWithinInterval(t *testing.T) {
	const interval = 30 * time.Second
	s, now := newCrashStore(t, WithReuseInterval(interval))
	ctx := t.Context()
	old, sibling := pair("interval"), pair("interval-sibling")
	d := createPair(t, s, old)
	createPair(t, s, sibling)
	startRotation(t, s, d, pair("interval-next"), *now)
	*now = now.Add(interval)
	err := s.RotateToken(ctx, old.RefreshToken, pair("interval-retry"))
	wantErr(t, "RotateToken within the reuse interval", err, storage.ErrRevoked)
	_, err = s.GetTokenByRefresh(ctx, old.RefreshToken)
	wantErr(t, "GetTokenByRefresh of the marked refresh token", err, storage.ErrRevoked)
	live(t, s, sibling, "another pair of the grant, after a replay within the interval")
	*now = now.Add(time.Millisecond)
	err = s.RotateToken(ctx, old.RefreshToken, pair("interval-late"))
	wantErr(t, "RotateToken after the reuse interval", err, storage.ErrRevoked)
	revoked(t, s, sibling, "another pair of the grant, after a replay after the interval")
}

// A rotation stopped after inserting the new pair, before flagging the old
// one: the new pair is live, the old refresh token revoked (by its marker),
// and a replay of it revokes the new pair.
func TestRotationNewPairNotFlagged(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	old, next := pair("not-flagged"), pair("not-flagged-next")
	d := createPair(t, s, old)
	_, nd := startRotation(t, s, d, next, *now)
	_, err := s.tokens.InsertOne(ctx, nd)
	mustT(t, err)

	_, err = s.GetTokenByRefresh(ctx, old.RefreshToken)
	wantErr(t, "GetTokenByRefresh of the rotated refresh token", err, storage.ErrRevoked)
	live(t, s, next, "the new pair")
	stolen := pair("not-flagged-stolen")
	err = s.RotateToken(ctx, old.RefreshToken, stolen)
	wantErr(t, "RotateToken with the rotated refresh token", err, storage.ErrRevoked)
	notStored(t, s, stolen, "the pair of a reuse")
	revoked(t, s, next, "the new pair, after the reuse of the refresh token it replaced")
}

// The losers of a race may act before the winner inserts its new pair:
// then the grant they revoke does not hold the new pair yet. The winner
// reads its marker again after its insert, sees it flagged reused, and
// revokes the grant again: its new pair does not stay live.
func TestRotationLoserBeforeWinnerInsert(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	old, next, sibling := pair("loser-first"), pair("loser-first-next"), pair("loser-first-sibling")
	d := createPair(t, s, old)
	createPair(t, s, sibling)
	m, nd := startRotation(t, s, d, next, *now) // the winner's marker

	loser := pair("loser-first-loser")
	err := s.RotateToken(ctx, old.RefreshToken, loser) // loses the insert: a reuse
	wantErr(t, "RotateToken that lost the marker insert", err, storage.ErrRevoked)
	notStored(t, s, loser, "the loser's pair")
	revoked(t, s, sibling, "another pair of the grant, after the loser's reuse")
	if got := getMarker(t, s, d); got == nil || !got.Reused {
		t.Fatalf("marker after the loser's reuse = %+v, want it flagged reused", got)
	}

	mustT(t, s.finishRotation(ctx, "test", d, m, nd)) // the winner goes on
	revoked(t, s, next, "the winner's new pair, inserted after the loser revoked the grant")
	revoked(t, s, old, "the rotated pair")
}

// The same race within a reuse interval: the loser revokes nothing, and
// the winner's pair is live.
func TestRotationLoserBeforeWinnerInsertWithinInterval(t *testing.T) {
	s, now := newCrashStore(t, WithReuseInterval(time.Minute))
	ctx := t.Context()
	old, next := pair("loser-within"), pair("loser-within-next")
	d := createPair(t, s, old)
	m, nd := startRotation(t, s, d, next, *now)
	err := s.RotateToken(ctx, old.RefreshToken, pair("loser-within-loser"))
	wantErr(t, "RotateToken that lost the marker insert", err, storage.ErrRevoked)
	mustT(t, s.finishRotation(ctx, "test", d, m, nd))
	live(t, s, next, "the winner's new pair")
	revoked(t, s, old, "the rotated pair")
}

// A new pair with a taken credential undoes the rotation: the marker is
// deleted and the old pair is live, so it can be rotated again.
func TestRotationRolledBack(t *testing.T) {
	s, _ := newCrashStore(t)
	ctx := t.Context()
	old, taken := pair("rollback"), pair("rollback-taken")
	d := createPair(t, s, old)
	createPair(t, s, taken)
	clash := pair("rollback-clash")
	clash.AccessToken = taken.AccessToken
	err := s.RotateToken(ctx, old.RefreshToken, clash)
	wantErr(t, "RotateToken to a pair with a taken access token", err, storage.ErrAlreadyExists)
	if m := getMarker(t, s, d); m != nil {
		t.Errorf("marker left by a rotation refused for a taken credential: %+v", m)
	}
	live(t, s, old, "the old pair after a refused rotation")
	live(t, s, taken, "the pair whose access token was taken")
	next := pair("rollback-next")
	mustT(t, s.RotateToken(ctx, old.RefreshToken, next))
	live(t, s, next, "the new pair")
	revoked(t, s, old, "the rotated pair")
}

// insertHooks are called around every insert into a store's rotations
// collection: before when it is sent, after with its reply, before the
// driver returns it. Inserts the hooks make themselves do not call them.
type insertHooks struct {
	before func()
	after  func(reply bson.Raw)
	inHook bool // the hooks run on the goroutine of the insert
}

// monitoredStore returns a store on a fresh database of the embedded
// FerretDB server, through a client of its own that calls h's hooks.
func monitoredStore(t *testing.T, now *time.Time, h *insertHooks) *Store {
	t.Helper()
	uri, err := mongoenv.FerretDBURI()
	mustT(t, err)
	var mu sync.Mutex
	pending := map[int64]bool{}
	mon := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			coll, _ := e.Command.Lookup("insert").StringValueOK()
			if e.CommandName != "insert" || coll != DefaultCollectionPrefix+RotationsCollection || h.inHook {
				return
			}
			mu.Lock()
			pending[e.RequestID] = true
			mu.Unlock()
			if h.before != nil {
				h.inHook = true
				h.before()
				h.inHook = false
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			mu.Lock()
			ours := pending[e.RequestID]
			delete(pending, e.RequestID)
			mu.Unlock()
			if ours && h.after != nil {
				h.inHook = true
				h.after(e.Reply)
				h.inHook = false
			}
		},
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(mon))
	mustT(t, err)
	db := client.Database(fmt.Sprintf("oauthstore_test_rotate_%d", time.Now().UnixNano()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	s, err := New(t.Context(), db, WithClock(func() time.Time { return *now }), WithHasher(secret.ForTests()))
	mustT(t, err)
	return s
}

// A caller whose marker insert fails because of another caller's marker,
// which that caller then deletes (its new pair was refused), starts over
// and wins: the race had no winner.
func TestRotationLoserRetriesAfterRollback(t *testing.T) {
	now := crashT0
	var h insertHooks
	s := monitoredStore(t, &now, &h)
	ctx := t.Context()
	old, next := pair("retry"), pair("retry-next")
	d := createPair(t, s, old)
	// Another caller's marker is there when this caller inserts its own,
	// and gone (rolled back) by the time it reads it.
	_, err := s.rotations.InsertOne(ctx, newRotation(d, s.newTokenDoc(pair("retry-other")), now))
	mustT(t, err)
	fired := 0
	h.after = func(reply bson.Raw) {
		if _, dup := reply.Lookup("writeErrors").ArrayOK(); dup {
			fired++
			if _, err := s.rotations.DeleteOne(context.Background(), bson.D{{Key: "_id", Value: markerID(d.Refresh, d.Gen)}}); err != nil {
				t.Error(err)
			}
		}
	}
	mustT(t, s.RotateToken(ctx, old.RefreshToken, next))
	h.after = nil
	if fired != 1 {
		t.Fatalf("%d marker inserts failed, want 1", fired)
	}
	live(t, s, next, "the new pair of the caller that started over")
	revoked(t, s, old, "the rotated pair")
}

// A caller that keeps losing to markers that vanish gives up after
// rotateAttempts and treats the call as a reuse: the refresh token is
// spent, the grant revoked.
func TestRotationLoserGivesUp(t *testing.T) {
	now := crashT0
	var h insertHooks
	s := monitoredStore(t, &now, &h)
	ctx := t.Context()
	old, sibling := pair("give-up"), pair("give-up-sibling")
	d := createPair(t, s, old)
	createPair(t, s, sibling)
	other := newRotation(d, s.newTokenDoc(pair("give-up-other")), now)
	// Inserted before each of the caller's inserts, deleted before the
	// caller reads it.
	h.before = func() {
		if _, err := s.rotations.InsertOne(context.Background(), other); err != nil {
			t.Error(err)
		}
	}
	fired := 0
	h.after = func(reply bson.Raw) {
		if _, dup := reply.Lookup("writeErrors").ArrayOK(); !dup {
			return
		}
		fired++
		if _, err := s.rotations.DeleteOne(context.Background(), bson.D{{Key: "_id", Value: other.ID}}); err != nil {
			t.Error(err)
		}
	}
	next := pair("give-up-next")
	err := s.RotateToken(ctx, old.RefreshToken, next)
	h.before, h.after = nil, nil
	wantErr(t, "RotateToken that lost every attempt", err, storage.ErrRevoked)
	if fired != rotateAttempts {
		t.Errorf("%d marker inserts failed, want %d", fired, rotateAttempts)
	}
	notStored(t, s, next, "the pair of a caller that gave up")
	revoked(t, s, sibling, "another pair of the grant")
}

// A marker left behind by a rotation that raced a deletion of its pair
// never marks a pair stored later with the same credentials: markers name
// the token document's incarnation.
func TestStaleRotationMarkerDoesNotMarkNewPair(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	old := pair("recreated")
	d := createPair(t, s, old)
	_, err := s.tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}) // DeleteClient's
	mustT(t, err)
	startRotation(t, s, d, pair("recreated-next"), *now) // lands after it
	createPair(t, s, old)
	live(t, s, old, "a pair stored again after a stale marker")
	next := pair("recreated-next-2")
	mustT(t, s.RotateToken(ctx, old.RefreshToken, next))
	live(t, s, next, "the new pair")
}

// Pairs stored before grants (no grant_id, no gen): a successor starts a
// grant of its own, which a reuse of the old refresh token revokes; other
// grantless pairs are left alone.
func TestRotateGrantlessPair(t *testing.T) {
	s, _ := newCrashStore(t)
	ctx := t.Context()
	legacy := func(name string) *models.Token {
		tok := pair(name)
		tok.GrantID = ""
		exp := date(crashT0.Add(24 * time.Hour))
		_, err := s.tokens.InsertOne(ctx, bson.D{
			{Key: "_id", Value: secret.Digest(tok.AccessToken)},
			{Key: "refresh", Value: secret.Digest(tok.RefreshToken)},
			{Key: "client_id", Value: "c"},
			{Key: "token_type", Value: "Bearer"},
			{Key: "issued_at", Value: date(crashT0)},
			{Key: "expires_at", Value: date(crashT0.Add(time.Hour))},
			{Key: "refresh_expires_at", Value: exp},
			{Key: "purge_at", Value: exp},
			{Key: "revoked", Value: false},
		})
		mustT(t, err)
		return tok
	}
	old, bystander := legacy("grantless"), legacy("grantless-bystander")
	got, err := s.GetTokenByRefresh(ctx, old.RefreshToken)
	mustT(t, err)
	if got.GrantID != "" {
		t.Fatalf("a pair stored without grant_id reads with GrantID %q", got.GrantID)
	}
	next := pair("grantless-next")
	next.GrantID = ""
	mustT(t, s.RotateToken(ctx, old.RefreshToken, next))
	rn, err := s.GetTokenByAccess(ctx, next.AccessToken)
	mustT(t, err)
	if rn.GrantID == "" {
		t.Error("the successor of a grantless pair has no GrantID")
	}
	revoked(t, s, old, "the rotated grantless pair")
	err = s.RotateToken(ctx, old.RefreshToken, pair("grantless-stolen"))
	wantErr(t, "RotateToken with the rotated grantless refresh token", err, storage.ErrRevoked)
	revoked(t, s, next, "the successor, after the reuse")
	live(t, s, bystander, "another grantless pair")
	wantErr(t, "RevokeGrant of the empty grant ID", s.RevokeGrant(ctx, ""), storage.ErrNotFound)
	live(t, s, bystander, "another grantless pair, after RevokeGrant(\"\")")
}

// Rotation markers go with their pairs: PurgeExpired deletes them (without
// counting them), and so does DeleteClient.
func TestRotationMarkersPurgedAndDeleted(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	countMarkers := func() int64 {
		t.Helper()
		n, err := s.rotations.CountDocuments(ctx, bson.D{})
		mustT(t, err)
		return n
	}
	old := pair("purged")
	createPair(t, s, old)
	next := pair("purged-next")
	next.RefreshTokenExpiresIn = 48 * time.Hour
	mustT(t, s.RotateToken(ctx, old.RefreshToken, next))
	if n := countMarkers(); n != 1 {
		t.Fatalf("%d markers after a rotation, want 1", n)
	}
	*now = now.Add(24 * time.Hour) // the old pair's purge instant
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 || countMarkers() != 1 {
		t.Errorf("PurgeExpired at the old pair's purge instant = %d, %v, %d markers; want 0, nil, 1", n, err, countMarkers())
	}
	*now = now.Add(time.Millisecond)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 || countMarkers() != 0 {
		t.Errorf("PurgeExpired after the old pair's purge instant = %d, %v, %d markers; want 1, nil, 0", n, err, countMarkers())
	}

	other := pair("deleted")
	other.ClientID, other.IssuedAt = "d", *now
	createPair(t, s, other)
	dnext := pair("deleted-next")
	dnext.ClientID, dnext.IssuedAt = "d", *now
	mustT(t, s.RotateToken(ctx, other.RefreshToken, dnext))
	if n := countMarkers(); n != 1 {
		t.Fatalf("%d markers after a rotation, want 1", n)
	}
	err := s.DeleteClient(ctx, "d")
	wantErr(t, "DeleteClient of a client not stored", err, storage.ErrNotFound)
	if n := countMarkers(); n != 0 {
		t.Errorf("%d markers after DeleteClient, want 0", n)
	}
	if _, err := s.GetTokenByRefresh(ctx, next.RefreshToken); err != nil {
		t.Errorf("GetTokenByRefresh of the pair of another client: %v", err)
	}
}
