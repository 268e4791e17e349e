package secret

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestDigest(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := Digest("abc"); got != want {
		t.Fatalf("Digest(abc) = %s, want %s", got, want)
	}
	if Digest("abd") == want {
		t.Fatal("different credentials share a digest")
	}
}

func testHasher(t *testing.T, h Hasher) {
	t.Helper()
	secrets := []string{"s3cr3t-Value", "", strings.Repeat("long-secret-", 10)}
	for _, s := range secrets {
		hash, err := h.Hash(s)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		if s != "" && strings.Contains(hash, s) {
			t.Fatalf("hash contains the secret")
		}
		if !h.Verify(hash, s) {
			t.Errorf("Verify(hash, secret) = false")
		}
		if h.Verify(hash, s+"x") {
			t.Errorf("Verify accepted a wrong secret")
		}
		again, err := h.Hash(s)
		if err != nil {
			t.Fatal(err)
		}
		if again == hash {
			t.Errorf("two hashes of one secret are equal: no salt")
		}
	}
	if h.Verify("not a hash", "x") {
		t.Error("Verify accepted a malformed hash")
	}
}

func TestBcrypt(t *testing.T) {
	testHasher(t, ForTests())
	// bcrypt reads 72 bytes; two long secrets that share them must differ.
	long := strings.Repeat("a", 80)
	h, err := ForTests().Hash(long + "1")
	if err != nil {
		t.Fatal(err)
	}
	if ForTests().Verify(h, long+"2") {
		t.Error("secrets differing after byte 72 verified as equal")
	}
	if _, err := (Bcrypt{Cost: 99}).Hash("x"); err == nil {
		t.Error("cost 99 accepted")
	}
}

func TestArgon2id(t *testing.T) {
	a := Argon2id{Time: 1, Memory: 1024, Threads: 1}
	testHasher(t, a)
	h, err := a.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q not in PHC format", h)
	}
	// Parameters come from the hash, not the verifier's settings.
	if !(Argon2id{}).Verify(h, "pw") {
		t.Error("hash made with other parameters does not verify")
	}
}

// A secret over 72 bytes is pre-hashed with a tag: the untagged pre-hash,
// or the tagged one sent as a secret, does not authenticate as it.
func TestBcryptPrehashTagged(t *testing.T) {
	long := strings.Repeat("long-client-secret-", 6)
	h, err := ForTests().Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	if !ForTests().Verify(h, long) {
		t.Fatal("a long secret does not verify against its own hash")
	}
	sum := sha256.Sum256([]byte(long))
	for name, forged := range map[string]string{
		"untagged pre-hash (std)":    base64.RawStdEncoding.EncodeToString(sum[:]),
		"untagged pre-hash (url)":    base64.RawURLEncoding.EncodeToString(sum[:]),
		"tagged pre-hash as secret":  prehashTag + base64.RawStdEncoding.EncodeToString(sum[:]),
		"hex digest":                 Digest(long),
		"first 72 bytes of a secret": long[:72],
	} {
		if ForTests().Verify(h, forged) {
			t.Errorf("%s authenticates as the long secret", name)
		}
	}
	// Hashes written by earlier versions (untagged pre-hash) still verify.
	legacy, err := bcrypt.GenerateFromPassword([]byte(base64.RawStdEncoding.EncodeToString(sum[:])), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !ForTests().Verify(string(legacy), long) {
		t.Error("a hash of the untagged pre-hash, as earlier versions wrote, no longer verifies")
	}
	if _, err := ForTests().Hash("short\x00secret"); !errors.Is(err, ErrHash) {
		t.Errorf("Hash of a short secret with a NUL byte: err = %v, want ErrHash", err)
	}
}

// Verify refuses stored argon2id parameters beyond the bounds without
// computing (a 4 GiB hash from a tampered database would otherwise be
// honoured), and Hash refuses them too.
func TestArgon2idBounds(t *testing.T) {
	a := Argon2id{Time: 1, Memory: 1024, Threads: 1}
	h, err := a.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []string{"m=4194304,t=1,p=1", "m=1024,t=1000,p=1", "m=1024,t=1,p=255", "m=1,t=1,p=1"} {
		forged := strings.Replace(h, "m=1024,t=1,p=1", params, 1)
		if a.Verify(forged, "pw") {
			t.Errorf("Verify accepted a hash with parameters %s", params)
		}
	}
	if _, err := (Argon2id{Memory: MaxArgon2Memory + 1}).Hash("pw"); !errors.Is(err, ErrHash) {
		t.Errorf("Hash with memory over the bound: err = %v, want ErrHash", err)
	}
}

// While every slot for slow hashes is taken, a hash waits; it runs once a
// slot is free.
func TestSlowHashesBounded(t *testing.T) {
	var releases []func()
	for range MaxConcurrentHashes() {
		releases = append(releases, acquire())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = ForTests().Hash("x")
	}()
	for range 1000 {
		runtime.Gosched()
		select {
		case <-done:
			t.Fatalf("a hash ran while all %d slots were taken", MaxConcurrentHashes())
		default:
		}
	}
	releases[0]()
	<-done
	for _, r := range releases[1:] {
		r()
	}
}

func TestKeyed(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, err := NewKeyed(k1)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeyed(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	const cred = "a-short-code"
	if old.Digest(cred) == Digest(cred) {
		t.Error("a keyed digest equals the unkeyed one")
	}
	if d := rotated.Digests(cred); len(d) != 2 || d[0] != rotated.Digest(cred) || d[1] != old.Digest(cred) {
		t.Errorf("Digests = %v: want the current key's digest, then the older key's", d)
	}
	if len(old.Digest(cred)) != 64 {
		t.Errorf("a keyed digest has %d characters, want 64 (hex SHA-256 width)", len(old.Digest(cred)))
	}
	for name, keys := range map[string][][]byte{
		"short key": {make([]byte, 31)},
		"same keys": {k1, k1},
	} {
		if _, err := NewKeyed(keys[0], keys[1:]...); !errors.Is(err, ErrKey) {
			t.Errorf("%s: err = %v, want ErrKey", name, err)
		}
	}
}

func TestKeyedSetKeys(t *testing.T) {
	k1, k2, k3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	k, err := NewKeyed(k1)
	if err != nil {
		t.Fatal(err)
	}
	const cred = "a-short-code"
	underK1 := k.Digest(cred)
	if err := k.SetKeys(k2, k1); err != nil {
		t.Fatal(err)
	}
	if d := k.Digests(cred); len(d) != 2 || d[1] != underK1 || d[0] == underK1 {
		t.Fatalf("after SetKeys(k2, k1): Digests = %v, want k2's digest then %s", d, underK1)
	}
	before := k.Digests(cred)
	if err := k.SetKeys(k3, k3); !errors.Is(err, ErrKey) {
		t.Fatalf("SetKeys with equal keys: err = %v, want ErrKey", err)
	}
	if err := k.SetKeys(k3, make([][]byte, MaxKeys)...); !errors.Is(err, ErrKey) {
		t.Fatalf("SetKeys with %d keys: err = %v, want ErrKey", MaxKeys+1, err)
	}
	if got := k.Digests(cred); !slices.Equal(got, before) {
		t.Fatalf("a failed SetKeys changed the keys: %v, was %v", got, before)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%+v", k)} {
		if strings.Contains(s, string(k2)) || strings.Contains(s, hex.EncodeToString(k2)) || strings.Contains(s, fmt.Sprint(k2)) {
			t.Errorf("a printed Keyed shows a key: %s", s)
		}
	}
}

// Lookups and rotations may run at once (go test -race).
func TestKeyedConcurrentRotation(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	k, err := NewKeyed(k1)
	if err != nil {
		t.Fatal(err)
	}
	want1, _ := NewKeyed(k1)
	want2, _ := NewKeyed(k2, k1)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if i == 0 {
					if j%2 == 0 {
						_ = k.SetKeys(k2, k1)
					} else {
						_ = k.SetKeys(k1)
					}
					continue
				}
				d := k.Digests("cred")
				if !slices.Equal(d, want1.Digests("cred")) && !slices.Equal(d, want2.Digests("cred")) {
					t.Errorf("Digests during rotation = %v: neither key list's", d)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseKeyed(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{0xfb}, 40)
	want, err := NewKeyed(k1, k2)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(k1) + "," + base64.StdEncoding.EncodeToString(k2),
		" " + base64.RawURLEncoding.EncodeToString(k1) + "\n\t" + base64.URLEncoding.EncodeToString(k2) + "\n",
	} {
		got, err := ParseKeyed(text)
		if err != nil {
			t.Fatalf("ParseKeyed: %v", err)
		}
		if !slices.Equal(got.Digests("c"), want.Digests("c")) {
			t.Errorf("ParseKeyed(%q) has other keys than NewKeyed(k1, k2)", text)
		}
	}
	short := base64.StdEncoding.EncodeToString(make([]byte, MinKeyLen-1))
	for _, text := range []string{"", " , ", "not*base64!", short} {
		_, err := ParseKeyed(text)
		if !errors.Is(err, ErrKey) {
			t.Errorf("ParseKeyed(%q) = %v, want ErrKey", text, err)
		}
		if text != "" && strings.TrimSpace(text) != "," && err != nil && strings.Contains(err.Error(), text) {
			t.Errorf("ParseKeyed's error repeats the key: %v", err)
		}
	}
}
