package secret

import (
	"strings"
	"testing"
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
	testHasher(t, Fast())
	// bcrypt reads 72 bytes; two long secrets that share them must differ.
	long := strings.Repeat("a", 80)
	h, err := Fast().Hash(long + "1")
	if err != nil {
		t.Fatal(err)
	}
	if Fast().Verify(h, long+"2") {
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
