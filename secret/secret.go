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
	"sync/atomic"

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

// ForTests returns bcrypt at cost 4 ([bcrypt.MinCost]): for tests only,
// never production. It is the cheapest hasher the project allows, so that
// tests and benchmarks that create many clients run fast; production
// servers keep [Default] or stronger.
func ForTests() Hasher { return Bcrypt{Cost: bcrypt.MinCost} }

// Keyed makes keyed digests: the lowercase hex HMAC-SHA-256 of a credential
// under a server key kept outside the database (a pepper). A leaked
// database alone then cannot be used to check guesses of short codes or
// tokens: the digests depend on a key it does not hold.
//
// Keys rotate: [Keyed.Digest] uses the first key, and lookups try every
// key's digest ([Keyed.Digests]), current first, so that credentials
// stored under an older key are still found until they expire. Rotate by
// restarting with the new key list, or at run time with [Keyed.SetKeys]:
// a store reads the keys on every call. Retire a key once every credential
// digested with it has expired (the longest refresh token lifetime after
// the rotation).
//
// A Keyed is safe for concurrent use and never prints its keys. Its zero
// value is not usable: create one with [NewKeyed].
type Keyed struct {
	keys atomic.Pointer[[][]byte]
}

// MinKeyLen is the shortest key [NewKeyed] accepts: 256 bits.
const MinKeyLen = 32

// MaxKeys is the most keys a [Keyed] holds: a lookup tries each, so a long
// list makes every miss cost that many lookups.
const MaxKeys = 8

// ErrKey is wrapped by the errors [NewKeyed] and [Keyed.SetKeys] return.
var ErrKey = errors.New("secret: bad digest key")

// NewKeyed returns a [Keyed] with current the key new digests use and
// older the keys of earlier rotations, newest first. Keys must be at least
// [MinKeyLen] bytes and distinct, at most [MaxKeys] of them; they are
// copied.
func NewKeyed(current []byte, older ...[]byte) (*Keyed, error) {
	k := &Keyed{}
	if err := k.SetKeys(current, older...); err != nil {
		return nil, err
	}
	return k, nil
}

// SetKeys replaces the keys, atomically: current is the key new digests
// use from now on, older the keys lookups still try, newest first. On
// error the keys are unchanged. Typical rotation: SetKeys(new, cur,
// older...), and later, once no credential digested with the oldest key
// can still be live, SetKeys without it.
func (k *Keyed) SetKeys(current []byte, older ...[]byte) error {
	all := append([][]byte{current}, older...)
	if len(all) > MaxKeys {
		return fmt.Errorf("%w: %d keys, more than %d", ErrKey, len(all), MaxKeys)
	}
	keys := make([][]byte, 0, len(all))
	for i, key := range all {
		if len(key) < MinKeyLen {
			return fmt.Errorf("%w: key %d has %d bytes, fewer than %d", ErrKey, i, len(key), MinKeyLen)
		}
		for j, prev := range keys {
			if hmac.Equal(prev, key) {
				return fmt.Errorf("%w: keys %d and %d are equal", ErrKey, j, i)
			}
		}
		keys = append(keys, append([]byte(nil), key...))
	}
	k.keys.Store(&keys)
	return nil
}

// KeysEnv is the environment variable this module's command and example
// server read their digest keys from, in the form [ParseKeyed] reads.
const KeysEnv = "OAUTHSTORE_DIGEST_KEYS"

// ParseKeyed returns the [Keyed] of a key list written as text: keys
// separated by commas or white space, current first, each the standard or
// URL-safe base64 (padded or not) of at least [MinKeyLen] bytes, as
// "openssl rand -base64 32" prints. Errors wrap [ErrKey] and never contain
// a key.
func ParseKeyed(text string) (*Keyed, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKey)
	}
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if keys[i], err = enc.DecodeString(f); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: key %d is not base64", ErrKey, i)
		}
	}
	return NewKeyed(keys[0], keys[1:]...)
}

// Len returns how many keys lookups try.
func (k *Keyed) Len() int { return len(*k.keys.Load()) }

// Digest returns the digest of credential under the current key: what a
// store writes.
func (k *Keyed) Digest(credential string) string {
	sum := hmacSum((*k.keys.Load())[0], credential)
	return hex.EncodeToString(sum[:])
}

// Digests returns the digests of credential under every key, current first:
// what a store looks up.
func (k *Keyed) Digests(credential string) []string {
	sums := k.Sums(credential)
	out := make([]string, len(sums))
	for i, sum := range sums {
		out[i] = hex.EncodeToString(sum[:])
	}
	return out
}

// Sum is [Keyed.Digest] in binary, for stores that key by bytes.
func (k *Keyed) Sum(credential string) [sha256.Size]byte {
	return hmacSum((*k.keys.Load())[0], credential)
}

// Sums is [Keyed.Digests] in binary, for stores that key by bytes.
func (k *Keyed) Sums(credential string) [][sha256.Size]byte {
	keys := *k.keys.Load()
	out := make([][sha256.Size]byte, len(keys))
	for i, key := range keys {
		out[i] = hmacSum(key, credential)
	}
	return out
}

// String and GoString keep the keys out of printed values.
func (k *Keyed) String() string   { return fmt.Sprintf("secret.Keyed{%d keys}", k.Len()) }
func (k *Keyed) GoString() string { return k.String() }

func hmacSum(key []byte, credential string) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(credential))
	m.Sum(sum[:0])
	return sum
}
