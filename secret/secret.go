package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Digest returns the lookup key under which a store keeps a high-entropy
// credential (an authorization code, access token or refresh token): the
// lowercase hex SHA-256 of it, 64 characters. The credential cannot be
// recovered from its digest. See [Keyed] for digests a leaked database
// alone cannot be checked against.
func Digest(credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(sum[:])
}

// A Hasher turns client secrets into salted, slow hashes and verifies
// secrets against them. Implementations must be safe for concurrent use.
type Hasher interface {
	// Hash returns an encoded hash of secret that embeds its own salt and
	// parameters. It never returns an error that contains the secret.
	Hash(secret string) (string, error)
	// Verify reports whether secret matches hash, in time that does not
	// depend on where they differ.
	Verify(hash, secret string) bool
}

// ErrHash is wrapped by the errors Hash returns.
var ErrHash = errors.New("secret: cannot hash")

// slow bounds how many slow hashes (bcrypt, argon2id) run at once in the
// process, so that a burst of client authentications cannot take every
// core, or, with argon2id, a memory block each without limit. Callers
// beyond the bound wait their turn.
var slow = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func acquire() func() {
	slow <- struct{}{}
	return func() { <-slow }
}

// MaxConcurrentHashes is how many slow hashes [Bcrypt] and [Argon2id] run
// at once in the process: max(2, GOMAXPROCS at start-up). Others wait.
func MaxConcurrentHashes() int { return cap(slow) }

// Bcrypt is a [Hasher] using bcrypt at the given cost.
type Bcrypt struct {
	// Cost is the bcrypt cost, between [bcrypt.MinCost] and [bcrypt.MaxCost];
	// zero means [bcrypt.DefaultCost].
	Cost int
}

// bcryptMax is the most bcrypt reads of its input.
const bcryptMax = 72

// prehashTag starts the bcrypt input of a secret longer than bcryptMax
// bytes: the tag and the secret's SHA-256, base64 encoded. It holds NUL
// bytes, which no secret bcrypt hashes directly may contain, so that no
// short secret can ever stand for a long one's pre-hash.
const prehashTag = "\x00oauthstore:bcrypt-sha256\x00"

// Hash implements [Hasher]. bcrypt reads at most 72 bytes, so a longer
// secret is pre-hashed: bcrypt hashes a tagged SHA-256 of it. A secret of
// up to 72 bytes that contains a NUL byte is refused ([ErrHash]): bcrypt
// implementations disagree on NUL, and the tag relies on its absence.
func (b Bcrypt) Hash(secret string) (string, error) {
	cost := b.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	in, ok := bcryptInput(secret)
	if !ok {
		return "", fmt.Errorf("%w: a secret of up to %d bytes with a NUL byte", ErrHash, bcryptMax)
	}
	defer acquire()()
	h, err := bcrypt.GenerateFromPassword(in, cost)
	if err != nil {
		return "", fmt.Errorf("%w: bcrypt at cost %d: %v", ErrHash, cost, err)
	}
	return string(h), nil
}

// Verify implements [Hasher]. A secret over 72 bytes verifies against
// hashes of its tagged pre-hash and, so that hashes written by earlier
// versions (untagged pre-hash) keep working, of its untagged one.
func (b Bcrypt) Verify(hash, secret string) bool {
	in, ok := bcryptInput(secret)
	if !ok {
		return false
	}
	defer acquire()()
	if bcrypt.CompareHashAndPassword([]byte(hash), in) == nil {
		return true
	}
	if len(secret) > bcryptMax {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(strings.TrimPrefix(string(in), prehashTag))) == nil
	}
	return false
}

// bcryptInput returns what bcrypt hashes for secret, or false for a short
// secret with a NUL byte.
func bcryptInput(secret string) ([]byte, bool) {
	if len(secret) <= bcryptMax {
		return []byte(secret), strings.IndexByte(secret, 0) < 0
	}
	sum := sha256.Sum256([]byte(secret))
	return []byte(prehashTag + base64.RawStdEncoding.EncodeToString(sum[:])), true
}

// Argon2id is a [Hasher] using argon2id (RFC 9106). The zero value uses
// 64 MiB, 1 pass and 2 lanes: RFC 9106's second recommended option (64
// MiB, 3 passes, 4 lanes) with fewer passes and lanes, so that a server
// authenticating many clients spends about 60 ms of one core per check.
// Raise Time for more resistance at a proportional cost.
type Argon2id struct {
	Time    uint32 // passes; 0 means 1
	Memory  uint32 // KiB; 0 means 64*1024
	Threads uint8  // lanes; 0 means 2
}

// Bounds on the argon2id parameters [Argon2id.Hash] uses and
// [Argon2id.Verify] accepts from a stored hash, so that a hash from a
// tampered database cannot make one check take unbounded memory or time.
const (
	MaxArgon2Memory  = 1024 * 1024 // KiB: 1 GiB
	MaxArgon2Time    = 16
	MaxArgon2Threads = 16
	maxArgon2Bytes   = 128 // salt and key lengths
)

func (a Argon2id) params() (t, m uint32, p uint8) {
	t, m, p = a.Time, a.Memory, a.Threads
	if t == 0 {
		t = 1
	}
	if m == 0 {
		m = 64 * 1024
	}
	if p == 0 {
		p = 2
	}
	return t, m, p
}

func argon2Bounded(t, m uint32, p uint8) bool {
	return t >= 1 && t <= MaxArgon2Time && p >= 1 && p <= MaxArgon2Threads && m >= 8*uint32(p) && m <= MaxArgon2Memory
}

// Hash implements [Hasher], in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash. Parameters beyond the Max
// bounds are [ErrHash].
func (a Argon2id) Hash(secret string) (string, error) {
	t, m, p := a.params()
	if !argon2Bounded(t, m, p) {
		return "", fmt.Errorf("%w: argon2id parameters m=%d,t=%d,p=%d are out of bounds", ErrHash, m, t, p)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("%w: reading salt: %v", ErrHash, err)
	}
	defer acquire()()
	key := argon2.IDKey([]byte(secret), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify implements [Hasher]. It uses the parameters recorded in hash, so
// hashes made with other settings still verify, within the Max bounds: a
// hash asking for more is refused without computing anything.
func (a Argon2id) Verify(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || !argon2Bounded(t, m, p) {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) > maxArgon2Bytes {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > maxArgon2Bytes {
		return false
	}
	defer acquire()()
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Default returns the hasher stores use unless told otherwise: bcrypt at
// [bcrypt.DefaultCost].
func Default() Hasher { return Bcrypt{Cost: bcrypt.DefaultCost} }

// Fast returns the cheapest hasher the project allows: bcrypt at
// [bcrypt.MinCost]. It is meant for tests and benchmarks; production
// servers keep [Default] or stronger.
func Fast() Hasher { return Bcrypt{Cost: bcrypt.MinCost} }

// Keyed makes keyed digests: the lowercase hex HMAC-SHA-256 of a credential
// under a server key kept outside the database (a pepper). A leaked
// database alone then cannot be used to check guesses of short codes or
// tokens: the digests depend on a key it does not hold.
//
// Keys rotate: [Keyed.Digest] uses the first key, and lookups try every
// key's digest ([Keyed.Digests]), current first, so that credentials
// stored under an older key are still found until they expire. Retire a
// key once every credential digested with it has expired.
type Keyed struct {
	keys [][]byte
}

// MinKeyLen is the shortest key [NewKeyed] accepts: 256 bits.
const MinKeyLen = 32

// ErrKey is wrapped by the errors [NewKeyed] returns.
var ErrKey = errors.New("secret: bad digest key")

// NewKeyed returns a [Keyed] with current the key new digests use and
// older the keys of earlier rotations, newest first. Keys must be at least
// [MinKeyLen] bytes and distinct; they are copied.
func NewKeyed(current []byte, older ...[]byte) (*Keyed, error) {
	k := &Keyed{}
	for i, key := range append([][]byte{current}, older...) {
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("%w: key %d has %d bytes, fewer than %d", ErrKey, i, len(key), MinKeyLen)
		}
		for j, prev := range k.keys {
			if hmac.Equal(prev, key) {
				return nil, fmt.Errorf("%w: keys %d and %d are equal", ErrKey, j, i)
			}
		}
		k.keys = append(k.keys, append([]byte(nil), key...))
	}
	return k, nil
}

// Digest returns the digest of credential under the current key: what a
// store writes.
func (k *Keyed) Digest(credential string) string { return k.digest(k.keys[0], credential) }

// Digests returns the digests of credential under every key, current first:
// what a store looks up.
func (k *Keyed) Digests(credential string) []string {
	out := make([]string, len(k.keys))
	for i, key := range k.keys {
		out[i] = k.digest(key, credential)
	}
	return out
}

func (k *Keyed) digest(key []byte, credential string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(credential))
	return hex.EncodeToString(m.Sum(nil))
}
