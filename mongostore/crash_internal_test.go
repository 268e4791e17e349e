package mongostore

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// These tests put the database in the states a consumer that stopped
// half-way leaves, and check every read still tells a used code apart.

var crashT0 = time.Date(2030, time.March, 4, 5, 6, 7, 8_000_000, time.UTC)

func newCrashStore(t *testing.T, opts ...Option) (*Store, *time.Time) {
	t.Helper()
	now := crashT0
	opts = append([]Option{WithClock(func() time.Time { return now }), WithHasher(secret.ForTests())}, opts...)
	s, err := New(t.Context(), mongoenv.FerretDB(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, &now
}

func createCode(t *testing.T, s *Store, code string) *codeDoc {
	t.Helper()
	if err := s.CreateAuthorizationCode(t.Context(), &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: crashT0, ExpiresIn: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var d codeDoc
	if err := s.codes.FindOne(t.Context(), bson.D{{Key: "_id", Value: secret.Digest(code)}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func insertMarker(t *testing.T, s *Store, d *codeDoc) {
	t.Helper()
	m := useDoc{ID: markerID(d.ID, d.Gen), Code: d.ID, ClientID: d.ClientID, ExpiresAt: d.ExpiresAt, UsedAt: date(crashT0)}
	if _, err := s.uses.InsertOne(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

// A consumer inserted the marker and stopped before flagging the code.
func TestMarkedButNotFlagged(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	d := createCode(t, s, "code-marked-not-flagged")
	insertMarker(t, s, d)

	_, err := s.GetAuthorizationCode(ctx, "code-marked-not-flagged")
	wantErr(t, "GetAuthorizationCode", err, storage.ErrAlreadyUsed)
	_, err = s.ConsumeAuthorizationCode(ctx, "code-marked-not-flagged")
	wantErr(t, "ConsumeAuthorizationCode", err, storage.ErrAlreadyUsed)

	// Used takes precedence over expired, marker or flag.
	*now = now.Add(2 * time.Minute)
	_, err = s.GetAuthorizationCode(ctx, "code-marked-not-flagged")
	wantErr(t, "GetAuthorizationCode after expiry", err, storage.ErrAlreadyUsed)
	_, err = s.ConsumeAuthorizationCode(ctx, "code-marked-not-flagged")
	wantErr(t, "ConsumeAuthorizationCode after expiry", err, storage.ErrAlreadyUsed)
}

// The winner flags the code; a flagged code whose marker is gone is still
// used.
func TestFlaggedWithoutMarker(t *testing.T) {
	s, _ := newCrashStore(t)
	ctx := t.Context()
	createCode(t, s, "code-flagged-no-marker")
	if _, err := s.ConsumeAuthorizationCode(ctx, "code-flagged-no-marker"); err != nil {
		t.Fatal(err)
	}
	var d codeDoc
	if err := s.codes.FindOne(ctx, bson.D{{Key: "_id", Value: secret.Digest("code-flagged-no-marker")}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if !d.Used {
		t.Fatal("the winner did not flag the code document")
	}
	if _, err := s.uses.DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetAuthorizationCode(ctx, "code-flagged-no-marker")
	wantErr(t, "GetAuthorizationCode", err, storage.ErrAlreadyUsed)
	_, err = s.ConsumeAuthorizationCode(ctx, "code-flagged-no-marker")
	wantErr(t, "ConsumeAuthorizationCode", err, storage.ErrAlreadyUsed)
}

// A marker left behind by a consume that raced a delete never marks a code
// created later with the same value: markers name the code document's
// incarnation.
func TestStaleMarkerDoesNotMarkNewCode(t *testing.T) {
	s, _ := newCrashStore(t)
	ctx := t.Context()
	old := createCode(t, s, "code-recreated")
	if err := s.DeleteAuthorizationCode(ctx, "code-recreated"); err != nil {
		t.Fatal(err)
	}
	insertMarker(t, s, old) // the racing consumer's insert lands after the delete
	createCode(t, s, "code-recreated")
	if _, err := s.GetAuthorizationCode(ctx, "code-recreated"); err != nil {
		t.Fatalf("GetAuthorizationCode of the new code: %v", err)
	}
	if _, err := s.ConsumeAuthorizationCode(ctx, "code-recreated"); err != nil {
		t.Fatalf("ConsumeAuthorizationCode of the new code: %v", err)
	}
	_, err := s.ConsumeAuthorizationCode(ctx, "code-recreated")
	wantErr(t, "second ConsumeAuthorizationCode", err, storage.ErrAlreadyUsed)
	// Deleting the code deletes every marker of its value.
	if err := s.DeleteAuthorizationCode(ctx, "code-recreated"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.uses.CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("markers left after DeleteAuthorizationCode: %d, %v", n, err)
	}
}

// An expired, unused code is not consumed, and leaves no marker.
func TestExpiredCodeNotMarked(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	createCode(t, s, "code-expired")
	*now = now.Add(time.Minute + time.Millisecond)
	_, err := s.ConsumeAuthorizationCode(ctx, "code-expired")
	wantErr(t, "ConsumeAuthorizationCode", err, storage.ErrExpired)
	if n, err := s.uses.CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("markers after consuming an expired code: %d, %v", n, err)
	}
}

// RevokeGrant flags a code used between a consumer's read of it and the
// consumer's marker insert: the consumer wins the marker but learns, from
// the flag it sets, that the code was unusable first, and gets
// ErrAlreadyUsed; as for any replay, the grant's tokens are revoked.
func TestConsumeRacingRevokeGrant(t *testing.T) {
	s, now := newCrashStore(t)
	ctx := t.Context()
	const code = "code-racing-revoke-grant"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: "c", AuthTime: crashT0, ExpiresIn: time.Minute, GrantID: "grant-raced"}))
	d, err := s.findCode(ctx, "test", secret.Digest(code))
	must(err)
	must(s.RevokeGrant(ctx, "grant-raced"))
	// A token of the grant issued after RevokeGrant (by another code's
	// exchange, say) is revoked by the replay.
	must(s.CreateToken(ctx, &models.Token{AccessToken: "access-of-raced-grant", ClientID: "c", IssuedAt: crashT0, ExpiresIn: time.Hour, GrantID: "grant-raced"}))
	_, err = s.consume(ctx, "test", d, code, *now)
	wantErr(t, "consume of a code flagged by RevokeGrant after it was read", err, storage.ErrAlreadyUsed)
	_, err = s.GetTokenByAccess(ctx, "access-of-raced-grant")
	wantErr(t, "GetTokenByAccess of a token of the grant after the replay", err, storage.ErrRevoked)
	_, err = s.GetAuthorizationCode(ctx, code)
	wantErr(t, "GetAuthorizationCode", err, storage.ErrAlreadyUsed)

	// Without RevokeGrant in between, the same steps win.
	const other = "code-not-raced"
	must(s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: other, ClientID: "c", AuthTime: crashT0, ExpiresIn: time.Minute, GrantID: "grant-not-raced"}))
	d, err = s.findCode(ctx, "test", secret.Digest(other))
	must(err)
	got, err := s.consume(ctx, "test", d, other, *now)
	if err != nil || got.GrantID != "grant-not-raced" {
		t.Fatalf("consume of a live code = %+v, %v", got, err)
	}
}
