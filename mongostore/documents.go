package mongostore

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
)

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
// millisecond precision, "stored < v" holds exactly when stored is before
// t: t rounded up to the millisecond ([backendkit.CeilMillis]).
func before(t time.Time) bson.DateTime { return bson.DateTime(backendkit.CeilMillis(t)) }

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
		ResponseType:        models.ResponseType(d.ResponseType),
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

// incarnation.
func (s *Store) newTokenDoc(n *models.Token) *tokenDoc {
	doc := &tokenDoc{
		ID:        s.cred.Digest(n.AccessToken),
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
		doc.Refresh = s.cred.Digest(n.RefreshToken)
		r := date(n.RefreshTokenExpiresAt())
		doc.RefreshExpiresAt = &r
	}
	return doc
}

// findToken returns the token document filter selects, or ErrNotFound.
