package backendkit

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// NormalizeUpdate validates c for [storage.ClientManager.UpdateClient] as
// [NormalizeClient] does, and refuses a ClientSecret: an update keeps the
// client's secrets.
func NormalizeUpdate(c *models.Client) (models.Client, error) {
	if c != nil && c.ClientSecret != "" {
		return models.Client{}, fmt.Errorf("update client %q: a secret is changed by RotateClientSecret, not UpdateClient: %w", c.ClientID, storage.ErrInvalid)
	}
	n, err := NormalizeClient(c)
	if err != nil {
		return models.Client{}, fmt.Errorf("update client: %w", err)
	}
	return n, nil
}

// CheckNewSecret validates the secret of
// [storage.ClientManager.RotateClientSecret]: not empty, within
// [storage.MaxCredentialLen], valid UTF-8 without NUL.
func CheckNewSecret(clientID, secretValue string) error {
	v := validator{op: "rotate client secret", clientID: clientID}
	v.credential("new secret", secretValue, true)
	return v.err
}

// RotateSecrets returns the secrets of a client after a rotation to
// newHash: the current hash becomes the previous one, valid until
// previousValidUntil (at [Precision]); a public client gets no previous
// secret.
func RotateSecrets(old Secrets, newHash string, previousValidUntil time.Time) Secrets {
	next := Secrets{Hash: newHash}
	if old.Hash != "" && !previousValidUntil.IsZero() {
		next.PreviousHash = old.Hash
		next.PreviousUntil = Truncate(previousValidUntil)
	}
	return next
}

// ListLimit returns the page size of q: [storage.DefaultListLimit] for 0,
// [storage.ErrInvalid] when negative or over [storage.MaxListLimit].
func ListLimit(q storage.ClientQuery) (int, error) {
	switch {
	case q.Limit == 0:
		return storage.DefaultListLimit, nil
	case q.Limit < 0 || q.Limit > storage.MaxListLimit:
		return 0, fmt.Errorf("list clients: limit %d is not between 1 and %d: %w", q.Limit, storage.MaxListLimit, storage.ErrInvalid)
	}
	return q.Limit, nil
}

// CountCode adds a code, used or not, to c in its state at now.
func CountCode(c *storage.RecordCounts, code *models.AuthorizationCode, used bool, now time.Time) {
	switch {
	case used:
		c.UsedCodes++
	case code.IsExpiredAt(now):
		c.ExpiredCodes++
	default:
		c.LiveCodes++
	}
}

// CountToken adds a token pair to c in its state at now.
func CountToken(c *storage.RecordCounts, t *models.Token, now time.Time) {
	switch {
	case t.Revoked:
		c.RevokedTokens++
	case now.After(PurgeAt(t)):
		c.ExpiredTokens++
	default:
		c.LiveTokens++
	}
}

// AddCounts adds b to a.
func AddCounts(a, b *storage.RecordCounts) {
	a.LiveCodes += b.LiveCodes
	a.UsedCodes += b.UsedCodes
	a.ExpiredCodes += b.ExpiredCodes
	a.LiveTokens += b.LiveTokens
	a.RevokedTokens += b.RevokedTokens
	a.ExpiredTokens += b.ExpiredTokens
}

// StartList does for [storage.ClientManager.ListClients] what every backend
// must do before it reads: it returns ctx's error if ctx is done, the page
// size of q ([ListLimit]), and [storage.ErrInvalid] for a cursor q.After
// that no client ID could equal ([LookupID]: too long, invalid UTF-8 or
// NUL), which no page returned as Next and a database may refuse to bind.
// op names the operation in errors, which do not contain the cursor.
func StartList(ctx context.Context, op string, q storage.ClientQuery) (int, error) {
	if err := CtxErr(ctx, op); err != nil {
		return 0, err
	}
	limit, err := ListLimit(q)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if q.After != "" && !LookupID(q.After) {
		return 0, fmt.Errorf("%s: cursor of %d bytes is not a client ID (too long, invalid UTF-8 or NUL): %w", op, len(q.After), storage.ErrInvalid)
	}
	return limit, nil
}
