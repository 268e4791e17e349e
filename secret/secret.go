package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Digest returns the lookup key under which a store keeps a high-entropy
// credential (an authorization code, access token or refresh token): the
// lowercase hex SHA-256 of it, 64 characters. The credential cannot be
// recovered from its digest.
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

// Bcrypt is a [Hasher] using bcrypt at the given cost.
type Bcrypt struct {
	// Cost is the bcrypt cost, between [bcrypt.MinCost] and [bcrypt.MaxCost];
	// zero means [bcrypt.DefaultCost].
	Cost int
}

// Hash implements [Hasher]. bcrypt reads at most 72 bytes, so longer secrets
// are pre-hashed with SHA-256 and verified the same way.
func (b Bcrypt) Hash(secret string) (string, error) {
	cost := b.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword(bcryptInput(secret), cost)
	if err != nil {
		return "", fmt.Errorf("%w: bcrypt at cost %d: %v", ErrHash, cost, err)
	}
	return string(h), nil
}

// Verify implements [Hasher].
func (b Bcrypt) Verify(hash, secret string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), bcryptInput(secret)) == nil
}

func bcryptInput(secret string) []byte {
	if len(secret) <= 72 {
		return []byte(secret)
	}
	sum := sha256.Sum256([]byte(secret))
	return []byte(base64.RawStdEncoding.EncodeToString(sum[:]))
}

// Argon2id is a [Hasher] using argon2id (RFC 9106). The zero value uses
// RFC 9106's second recommended option scaled for a server: 64 MiB, 1 pass,
// 2 lanes.
type Argon2id struct {
	Time    uint32 // passes; 0 means 1
	Memory  uint32 // KiB; 0 means 64*1024
	Threads uint8  // lanes; 0 means 2
}

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

// Hash implements [Hasher], in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func (a Argon2id) Hash(secret string) (string, error) {
	t, m, p := a.params()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("%w: reading salt: %v", ErrHash, err)
	}
	key := argon2.IDKey([]byte(secret), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify implements [Hasher]. It uses the parameters recorded in hash, so
// hashes made with other settings still verify.
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
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
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
