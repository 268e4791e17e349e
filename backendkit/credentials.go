package backendkit

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Credentials is how a backend turns authorization codes and tokens into
// the keys it persists and looks up, and which credentials it accepts: the
// rules behind a store's WithDigestKeys and WithMinCredentialLength
// options. Every backend holds one and never digests a credential any
// other way.
//
// The zero value digests with the unkeyed [secret.Digest] and accepts
// credentials of any non-zero length. It is safe for concurrent use.
type Credentials struct {
	keys   *secret.Keyed
	minLen int
}

// NewCredentials returns the [Credentials] of a store configured with keys
// (nil: unkeyed digests) and a minimum credential length in bytes (0 or
// less: none).
func NewCredentials(keys *secret.Keyed, minLen int) Credentials {
	return Credentials{keys: keys, minLen: max(minLen, 0)}
}

// Keyed reports whether digests are keyed: then a credential may be
// persisted under any of [Credentials.Digests].
func (c Credentials) Keyed() bool { return c.keys != nil }

// MinLength is the shortest code or token, in bytes, that Create and
// RotateToken accept; 0 if any.
func (c Credentials) MinLength() int { return c.minLen }

// Digest returns what a store persists for credential: the lowercase hex
// digest under the current key, or [secret.Digest] when unkeyed.
func (c Credentials) Digest(credential string) string {
	if c.keys == nil {
		return secret.Digest(credential)
	}
	return c.keys.Digest(credential)
}

// Digests returns what a store looks credential up by, current key first:
// a lookup tries each in turn and stops at the first record found. A
// record is persisted under exactly one of them (the key that was current
// when it was written), so an atomic operation on the record found (a
// code's consumption, a rotation) stays atomic. Unkeyed, it is the one
// [secret.Digest].
//
// Uniqueness is enforced per key: a credential created again after a key
// rotation, while its record under an older key lives, is not detected as
// taken (credentials are random; only a caller reusing one would notice),
// and lookups then find the newer record.
func (c Credentials) Digests(credential string) []string {
	if c.keys == nil {
		return []string{secret.Digest(credential)}
	}
	return c.keys.Digests(credential)
}

// Sum is [Credentials.Digest] in binary, for stores that key by bytes.
func (c Credentials) Sum(credential string) [sha256.Size]byte {
	if c.keys == nil {
		return sha256.Sum256([]byte(credential))
	}
	return c.keys.Sum(credential)
}

// Sums is [Credentials.Digests] in binary, for stores that key by bytes.
func (c Credentials) Sums(credential string) [][sha256.Size]byte {
	if c.keys == nil {
		return [][sha256.Size]byte{sha256.Sum256([]byte(credential))}
	}
	return c.keys.Sums(credential)
}

// NormalizeAuthorizationCode is [NormalizeAuthorizationCode] with the
// minimum credential length.
func (c Credentials) NormalizeAuthorizationCode(code *models.AuthorizationCode) (models.AuthorizationCode, error) {
	out, err := NormalizeAuthorizationCode(code)
	if err != nil {
		return out, err
	}
	if err := c.check("create authorization code", "code", out.Code); err != nil {
		return models.AuthorizationCode{}, err
	}
	return out, nil
}

// NormalizeToken is [NormalizeToken] with the minimum credential length.
func (c Credentials) NormalizeToken(t *models.Token) (models.Token, error) {
	out, err := NormalizeToken(t)
	if err != nil {
		return out, err
	}
	if err := c.checkToken("create token", &out); err != nil {
		return models.Token{}, err
	}
	return out, nil
}

// NormalizeSuccessor is [NormalizeSuccessor] with the minimum credential
// length.
func (c Credentials) NormalizeSuccessor(next *models.Token) (models.Token, error) {
	out, err := NormalizeSuccessor(next)
	if err != nil {
		return out, err
	}
	if err := c.checkToken("rotate token", &out); err != nil {
		return models.Token{}, err
	}
	return out, nil
}

func (c Credentials) checkToken(op string, t *models.Token) error {
	if err := c.check(op, "access token", t.AccessToken); err != nil {
		return err
	}
	if t.RefreshToken == "" {
		return nil
	}
	return c.check(op, "refresh token", t.RefreshToken)
}

// check never names the credential, only its length.
func (c Credentials) check(op, kind, v string) error {
	if len(v) < c.minLen {
		return fmt.Errorf("%s: %s has %d bytes, fewer than the minimum of %d: %w", op, kind, len(v), c.minLen, storage.ErrInvalid)
	}
	return nil
}

// Lookup runs look with each digest of credential ([Credentials.Digests]),
// current key first, and returns the first result whose error does not
// wrap [storage.ErrNotFound], or else the last one's: the loop every
// lookup, consumption and rotation of a keyed store runs. look decides and
// acts on the record of one digest (atomically, where the operation is
// atomic); a miss under one key moves on to the next.
func Lookup[T any](c Credentials, credential string, look func(digest string) (T, error)) (T, error) {
	if c.keys == nil {
		return look(secret.Digest(credential))
	}
	digests := c.keys.Digests(credential)
	for _, d := range digests[:len(digests)-1] {
		if v, err := look(d); !errors.Is(err, storage.ErrNotFound) {
			return v, err
		}
	}
	return look(digests[len(digests)-1])
}
