package conformance

import (
	"hash/fnv"
	"os"
	"strconv"
	"testing"
	"time"
)

// SeedEnv is the environment variable that fixes the seed of the values the
// suite generates, to repeat a failing run. [Run] logs the seed it uses.
const SeedEnv = "OAUTHSTORE_CONFORMANCE_SEED"

// start is the instant the suite's clock shows when each subtest begins: a
// fixed, millisecond-aligned instant in the future, so that a store reading
// the real clock instead of the injected one fails.
var start = time.Date(2031, time.May, 6, 7, 8, 9, 123_000_000, time.UTC)

// testCase is one subtest of a group.
type testCase struct {
	name string
	run  func(h *harness)
}

// group is a subtest of Run holding the cases of one area.
type group struct {
	name  string
	cases []testCase
}

// groups lists every area of the contract, in the order Run runs them.
func groups() []group {
	return []group{
		{"Client", clientTests},
		{"Code", codeTests},
		{"Token", tokenTests},
		{"Grant", grantTests},
		{"Manage", manageTests},
		{"Limits", limitsTests},
		{"Isolation", isolationTests},
		{"Purge", purgeTests},
		{"Context", contextTests},
		{"Secrets", secretsTests},
	}
}

// Run tests that the stores newStore returns keep the [storage.Storage]
// contract. It runs one subtest per area and case, named like
// "Code/ConsumeConcurrent", and calls newStore once per case for an empty,
// isolated store on a clock the suite controls. See the package
// documentation for how to use it.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	if newStore == nil {
		t.Fatal("conformance.Run: nil NewStore")
	}
	seed := suiteSeed(t)
	t.Logf("conformance: seed %d (set %s=%d to repeat)", seed, SeedEnv, seed)
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newHarness(t, newStore, caseSeed(seed, g.name+"/"+c.name)))
				})
			}
		})
	}
}

// suiteSeed returns the seed from SeedEnv, or a fresh one.
func suiteSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv(SeedEnv); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("conformance: %s=%q is not an unsigned integer", SeedEnv, v)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// caseSeed derives the seed of one case, so that each case generates the
// same values whether it runs alone or with the others.
func caseSeed(seed uint64, name string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(name))
	return seed ^ f.Sum64()
}
