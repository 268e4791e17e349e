package redisstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
)

// Records are Redis hashes whose fields are text: instants in unix
// milliseconds, lifetimes in milliseconds, flags "0" or "1", lists as JSON
// arrays. The field names below are also read by the scripts.

// Client hash fields.
const (
	fGrantTypes    = "grant_types"
	fResponseTypes = "response_types"
	fRedirectURIs  = "redirect_uris"
	fScope         = "scope"
	fUserID        = "user_id"
	fSecretHash    = "secret_hash"
	fPrevHash      = "previous_secret_hash"  // after a secret rotation, "" if none
	fPrevUntil     = "previous_secret_until" // unix ms, "" if no previous secret
)

// Code hash fields (and fScope, fUserID).
const (
	fClientID            = "client_id"
	fGrantID             = "grant_id"
	fRedirectURI         = "redirect_uri"
	fResponseType        = "response_type"
	fAuthTime            = "auth_time"
	fExpiresIn           = "expires_in"
	fExp                 = "exp" // auth_time + expires_in: the expiry the scripts judge
	fCodeChallenge       = "code_challenge"
	fCodeChallengeMethod = "code_challenge_method"
	fNonce               = "nonce"
	fUsed                = "used"
)

// Token pair hash fields (and fClientID, fGrantID, fScope, fUserID,
// fExpiresIn, fExp).
const (
	fRefresh          = "refresh" // digest of the refresh token, "" if none
	fTokenType        = "token_type"
	fIssuedAt         = "issued_at"
	fRefreshExpiresIn = "refresh_expires_in"
	fRefreshExp       = "refresh_exp" // issued_at + refresh_expires_in
	fPurgeAt          = "purge_at"    // backendkit.PurgeAt
	fRevoked          = "revoked"
	fRotatedAt        = "rotated_at" // set by the rotation that revoked the pair
)

func ms(t time.Time) string        { return strconv.FormatInt(t.UnixMilli(), 10) }
func msDur(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// jsonList encodes a list as a JSON array, with HTML characters left as
// they are so that stored redirect URIs read as written.
func jsonList(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // lists of strings always encode
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// registrationFields are the fields of a client that UpdateClient
// replaces: all but its secrets.
func registrationFields(c *models.Client) []any {
	return []any{
		fGrantTypes, jsonList(c.GrantTypes),
		fResponseTypes, jsonList(c.ResponseTypes),
		fRedirectURIs, jsonList(c.RedirectURIs),
		fScope, c.Scope,
		fUserID, c.UserID,
	}
}

// secretFields are the fields that hold a client's secrets.
func secretFields(s backendkit.Secrets) []any {
	until := ""
	if s.PreviousHash != "" {
		until = ms(s.PreviousUntil)
	}
	return []any{fSecretHash, s.Hash, fPrevHash, s.PreviousHash, fPrevUntil, until}
}

func codeFields(c *models.AuthorizationCode) []any {
	return []any{
		fClientID, c.ClientID,
		fGrantID, c.GrantID,
		fRedirectURI, c.RedirectURI,
		fResponseType, string(c.ResponseType),
		fScope, c.Scope,
		fAuthTime, ms(c.AuthTime),
		fExpiresIn, msDur(c.ExpiresIn),
		fExp, ms(c.ExpiresAt()),
		fCodeChallenge, c.CodeChallenge,
		fCodeChallengeMethod, string(c.CodeChallengeMethod),
		fNonce, c.Nonce,
		fUserID, c.UserID,
		fUsed, "0",
	}
}

// tokenFields are the fields of the pair t, whose refresh token has digest
// refresh ("" if none).
func tokenFields(t *models.Token, refresh string) []any {
	return []any{
		fRefresh, refresh,
		fClientID, t.ClientID,
		fGrantID, t.GrantID,
		fScope, t.Scope,
		fTokenType, t.TokenType,
		fUserID, t.UserID,
		fIssuedAt, ms(t.IssuedAt),
		fExpiresIn, msDur(t.ExpiresIn),
		fExp, ms(t.ExpiresAt()),
		fRefreshExpiresIn, msDur(t.RefreshTokenExpiresIn),
		fRefreshExp, ms(t.RefreshTokenExpiresAt()),
		fPurgeAt, ms(backendkit.PurgeAt(t)),
		fRevoked, "0",
	}
}

// decoder reads the fields of a hash, remembering the first problem.
type decoder struct {
	m   map[string]string
	err error
}

func (d *decoder) str(f string) string { return d.m[f] }

func (d *decoder) int(f string) int64 {
	v, ok := d.m[f]
	if !ok {
		d.fail("missing field %s", f)
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d.fail("field %s is not an integer", f)
	}
	return n
}

func (d *decoder) instant(f string) time.Time { return time.UnixMilli(d.int(f)).UTC() }

func (d *decoder) dur(f string) time.Duration { return time.Duration(d.int(f)) * time.Millisecond }

func (d *decoder) list(f string, v any) {
	if err := json.Unmarshal([]byte(d.m[f]), v); err != nil {
		d.fail("field %s is not a JSON list", f)
	}
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
}

// decodeClient returns the client stored in m as stores return it at now
// (SecretHash set, PreviousSecretValidUntil set while the previous secret
// is valid), and its secrets.
func decodeClient(id string, m map[string]string, now time.Time) (*models.Client, backendkit.Secrets, error) {
	d := decoder{m: m}
	c := &models.Client{
		ClientID: id,
		Scope:    d.str(fScope),
		UserID:   d.str(fUserID),
	}
	d.list(fGrantTypes, &c.GrantTypes)
	d.list(fResponseTypes, &c.ResponseTypes)
	d.list(fRedirectURIs, &c.RedirectURIs)
	s := backendkit.Secrets{Hash: d.str(fSecretHash), PreviousHash: d.str(fPrevHash)}
	if s.PreviousHash != "" {
		s.PreviousUntil = d.instant(fPrevUntil)
	}
	if d.err != nil {
		return nil, s, fmt.Errorf("client %q: %w", id, d.err)
	}
	c.SecretHash = s.Hash
	if s.PreviousValid(now) {
		c.PreviousSecretValidUntil = s.PreviousUntil
	}
	return c, s, nil
}

// decodeCode returns the code stored in m, without its Code, and whether
// it is used.
func decodeCode(m map[string]string) (models.AuthorizationCode, bool, error) {
	d := decoder{m: m}
	c := models.AuthorizationCode{
		ClientID:            d.str(fClientID),
		GrantID:             d.str(fGrantID),
		RedirectURI:         d.str(fRedirectURI),
		ResponseType:        models.ResponseType(d.str(fResponseType)),
		Scope:               d.str(fScope),
		AuthTime:            d.instant(fAuthTime),
		ExpiresIn:           d.dur(fExpiresIn),
		CodeChallenge:       d.str(fCodeChallenge),
		CodeChallengeMethod: models.CodeChallengeMethod(d.str(fCodeChallengeMethod)),
		Nonce:               d.str(fNonce),
		UserID:              d.str(fUserID),
	}
	if d.err != nil {
		return c, false, fmt.Errorf("authorization code of client %q: %w", c.ClientID, d.err)
	}
	return c, d.str(fUsed) == "1", nil
}

// decodeToken returns the pair stored in m, without its credentials, with
// Revoked set from the stored flag.
func decodeToken(m map[string]string) (models.Token, error) {
	d := decoder{m: m}
	t := models.Token{
		ClientID:              d.str(fClientID),
		GrantID:               d.str(fGrantID),
		Scope:                 d.str(fScope),
		TokenType:             d.str(fTokenType),
		UserID:                d.str(fUserID),
		IssuedAt:              d.instant(fIssuedAt),
		ExpiresIn:             d.dur(fExpiresIn),
		RefreshTokenExpiresIn: d.dur(fRefreshExpiresIn),
		Revoked:               d.str(fRevoked) == "1",
	}
	if d.err != nil {
		return t, fmt.Errorf("token of client %q: %w", t.ClientID, d.err)
	}
	return t, nil
}

// pairs turns the flat field-value array a script returns for HGETALL
// into a map.
func pairs(v any) (map[string]string, error) {
	a, ok := v.([]any)
	if !ok || len(a)%2 != 0 {
		return nil, fmt.Errorf("%w: unexpected script reply %T", errCorrupt, v)
	}
	m := make(map[string]string, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		k, ok1 := a[i].(string)
		v, ok2 := a[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: unexpected script reply", errCorrupt)
		}
		m[k] = v
	}
	return m, nil
}
