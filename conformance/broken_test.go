package conformance_test

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// The suite must catch broken stores. TestBrokenStores runs it, in a
// subprocess of this test binary, against memstore wrapped so as to break
// one rule at a time, and checks that the subtests guarding that rule
// fail. Two unbroken controls must pass.

// brokenEnv names the variant the helper test runs the suite against.
const brokenEnv = "OAUTHSTORE_CONFORMANCE_BROKEN_VARIANT"

const helperName = "TestBrokenStoreHelper"

// variant is a store the suite runs against in a subprocess.
type variant struct {
	name     string
	newStore func(clock func() time.Time) storage.Storage
	// reuse, instead of newStore, makes the variant run RunReuseInterval.
	reuse func(clock func() time.Time, interval time.Duration) storage.Storage
	// keyed, instead of newStore, makes the variant run RunKeyed; minLen,
	// RunMinCredentialLength.
	keyed  func(clock func() time.Time, keys *secret.Keyed) storage.Storage
	minLen func(clock func() time.Time, n int) storage.Storage
	// wantFail lists subtests (below Run) that must fail; empty for a
	// control, which must pass.
	wantFail []string
	// wantPass lists subtests a control must pass; wantSkip ones it must
	// skip.
	wantPass, wantSkip []string
}

func mem(clock func() time.Time) *memstore.Store {
	return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()))
}

var variants = []variant{
	{
		name:     "control/memstore",
		newStore: func(clock func() time.Time) storage.Storage { return mem(clock) },
		wantPass: []string{"Client/CreateGet", "Code/ConsumeConcurrent", "Token/RevokeByRefresh", "Grant/RotateConcurrent",
			"Manage/ListStableUnderInserts", "Manage/RotateSecretOverlap", "Manage/Stats",
			"Grant/ReuseAfterRotation", "Isolation/SeveralClients", "Purge/Counts", "Context/RotateToken",
			"Context/PurgeExpired", "Secrets/ErrorMessages"},
		wantSkip: []string{"Secrets/RawDump"},
	},
	{
		name:     "control/dumper",
		newStore: func(clock func() time.Time) storage.Storage { return newDumper(mem(clock), false) },
		wantPass: []string{"Secrets/RawDump", "Code/ConsumeConcurrent"},
	},
	{
		name:     "consume-not-atomic",
		newStore: func(clock func() time.Time) storage.Storage { return nonAtomicConsume{mem(clock)} },
		wantFail: []string{"Code/ConsumeConcurrent"},
	},
	{
		name:     "consume-does-not-mark-used",
		newStore: func(clock func() time.Time) storage.Storage { return consumeNotMarked{mem(clock)} },
		wantFail: []string{"Code/Consume", "Code/ConsumeConcurrent"},
	},
	{
		name: "used-code-reports-expired",
		newStore: func(clock func() time.Time) storage.Storage {
			return &usedReportsExpired{Storage: mem(clock), clock: clock, expiry: map[string]time.Time{}}
		},
		wantFail: []string{"Code/ConsumeThenExpire"},
	},
	{
		name: "time-not-truncated",
		newStore: func(clock func() time.Time) storage.Storage {
			return &untruncated{Storage: mem(clock), orig: map[string]time.Time{}}
		},
		wantFail: []string{"Code/CreateGet"},
	},
	{
		name: "expiry-ignored",
		newStore: func(clock func() time.Time) storage.Storage {
			frozen := clock()
			return mem(func() time.Time { return frozen })
		},
		wantFail: []string{"Code/Expired", "Token/AccessExpiry", "Token/RefreshExpiry", "Purge/Codes"},
	},
	{
		name:     "real-clock",
		newStore: func(clock func() time.Time) storage.Storage { return mem(time.Now) },
		wantFail: []string{"Code/Expired", "Token/AccessExpiry"},
	},
	{
		name: "expired-at-the-boundary",
		newStore: func(clock func() time.Time) storage.Storage {
			return mem(func() time.Time { return clock().Add(time.Nanosecond) })
		},
		wantFail: []string{"Code/ExpiryBoundary", "Token/AccessExpiry", "Token/RefreshExpiry"},
	},
	{
		name: "clock-truncated-to-the-millisecond",
		newStore: func(clock func() time.Time) storage.Storage {
			return mem(func() time.Time { return clock().Truncate(time.Millisecond) })
		},
		wantFail: []string{"Code/ExpirySubMillisecond", "Token/ExpirySubMillisecond"},
	},
	{
		name:     "revocation-ignored",
		newStore: func(clock func() time.Time) storage.Storage { return revokeIgnored{mem(clock)} },
		wantFail: []string{"Token/RevokeByAccess", "Token/RevokeByRefresh", "Isolation/RevokeOnlyThatPair"},
	},
	{
		name: "revoke-one-credential-only",
		newStore: func(clock func() time.Time) storage.Storage {
			return &revokeOne{Storage: mem(clock), revoked: map[string]bool{}}
		},
		wantFail: []string{"Token/RevokeByAccess", "Token/RevokeByRefresh"},
	},
	{
		name:     "empty-refresh-token-matches",
		newStore: func(clock func() time.Time) storage.Storage { return &emptyRefreshMatches{Storage: mem(clock)} },
		wantFail: []string{"Token/WithoutRefresh"},
	},
	{
		name:     "missing-refresh-tokens-collide",
		newStore: func(clock func() time.Time) storage.Storage { return &emptyRefreshUnique{Storage: mem(clock)} },
		wantFail: []string{"Token/SeveralWithoutRefresh"},
	},
	{
		name:     "refresh-token-accepted-as-access-token",
		newStore: func(clock func() time.Time) storage.Storage { return refreshAsAccess{mem(clock)} },
		wantFail: []string{"Token/CredentialsNotInterchangeable"},
	},
	{
		name:     "token-half-written-on-duplicate",
		newStore: func(clock func() time.Time) storage.Storage { return halfWrittenToken{mem(clock)} },
		wantFail: []string{"Token/CreateDuplicateRefresh"},
	},
	{
		name:     "duplicate-client-overwrites",
		newStore: func(clock func() time.Time) storage.Storage { return overwriteClient{mem(clock)} },
		wantFail: []string{"Client/CreateDuplicate"},
	},
	{
		name: "client-secret-returned",
		newStore: func(clock func() time.Time) storage.Storage {
			return &secretReturned{Storage: mem(clock), secrets: map[string]string{}}
		},
		wantFail: []string{"Client/CreateGet", "Client/Authenticate"},
	},
	{
		name: "unsalted-hash",
		newStore: func(clock func() time.Time) storage.Storage {
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(unsaltedHasher{}))
		},
		wantFail: []string{"Client/SecretHashSalted"},
	},
	{
		name: "hash-truncates-at-72-bytes",
		newStore: func(clock func() time.Time) storage.Storage {
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(truncatingHasher{secret.ForTests()}))
		},
		wantFail: []string{"Client/AuthenticateWrongSecret"},
	},
	{
		name: "returned-clients-aliased",
		newStore: func(clock func() time.Time) storage.Storage {
			return &aliasedClients{Storage: mem(clock), cache: map[string]*models.Client{}}
		},
		wantFail: []string{"Client/NoAliasing"},
	},
	{
		name:     "public-client-authenticates",
		newStore: func(clock func() time.Time) storage.Storage { return publicAuthenticates{mem(clock)} },
		wantFail: []string{"Client/AuthenticatePublic"},
	},
	{
		name:     "client-id-case-insensitive",
		newStore: func(clock func() time.Time) storage.Storage { return foldedIDs{mem(clock)} },
		wantFail: []string{"Client/IDExactMatch"},
	},
	{
		name:     "delete-client-skips-codes-when-not-stored",
		newStore: func(clock func() time.Time) storage.Storage { return shallowDelete{mem(clock)} },
		wantFail: []string{"Client/DeleteNotStoredCascades"},
	},
	{
		name:     "secret-in-errors",
		newStore: func(clock func() time.Time) storage.Storage { return secretInErrors{mem(clock)} },
		wantFail: []string{"Client/AuthenticateWrongSecret", "Secrets/ErrorMessages"},
	},
	{
		name:     "plaintext-at-rest",
		newStore: func(clock func() time.Time) storage.Storage { return newDumper(mem(clock), true) },
		wantFail: []string{"Secrets/RawDump"},
	},
	{
		name:     "dump-returns-nothing",
		newStore: func(clock func() time.Time) storage.Storage { return emptyDump{mem(clock)} },
		wantFail: []string{"Secrets/RawDump"},
	},
	{
		name: "dump-leaves-tokens-out",
		newStore: func(clock func() time.Time) storage.Storage {
			d := newDumper(mem(clock), false)
			d.noTokens = true
			return d
		},
		wantFail: []string{"Secrets/RawDump"},
	},
	{
		name:     "purge-miscounts",
		newStore: func(clock func() time.Time) storage.Storage { return purgeMiscounts{mem(clock)} },
		wantFail: []string{"Purge/Codes", "Purge/Counts"},
	},
	{
		name: "purge-deletes-live-refresh-tokens",
		newStore: func(clock func() time.Time) storage.Storage {
			return &purgeByAccess{Storage: mem(clock), clock: clock, deleted: map[string]bool{}}
		},
		wantFail: []string{"Purge/KeepsLiveRefresh", "Purge/Tokens"},
	},
	{
		name:     "rotation-lets-two-racers-win",
		newStore: func(clock func() time.Time) storage.Storage { return nonAtomicRotate{mem(clock)} },
		wantFail: []string{"Grant/RotateConcurrent"},
	},
	{
		name:     "reuse-revokes-nothing",
		newStore: func(clock func() time.Time) storage.Storage { return reuseRevokesNothing{mem(clock)} },
		wantFail: []string{"Grant/ReuseAfterRotation", "Grant/RevokeThenReuse", "Grant/RotateChain"},
	},
	{
		name:     "code-replay-revokes-nothing",
		newStore: func(clock func() time.Time) storage.Storage { return replayRevokesNothing{mem(clock)} },
		wantFail: []string{"Grant/CodeReplayRevokesGrant"},
	},
	{
		name:     "get-code-revokes-grant",
		newStore: func(clock func() time.Time) storage.Storage { return getCodeRevokes{mem(clock)} },
		wantFail: []string{"Grant/GetCodeIsPureRead"},
	},
	{
		name:     "grant-not-inherited",
		newStore: func(clock func() time.Time) storage.Storage { return &grantNotInherited{Storage: mem(clock)} },
		wantFail: []string{"Grant/Rotate", "Grant/RotateChain"},
	},
	{
		name:     "grant-id-not-assigned",
		newStore: func(clock func() time.Time) storage.Storage { return grantIDNotAssigned{mem(clock)} },
		wantFail: []string{"Grant/AssignedOnCreate", "Code/CreateGet", "Token/CreateGet"},
	},
	{
		name: "revoke-grant-keeps-codes",
		newStore: func(clock func() time.Time) storage.Storage {
			return &revokeGrantKeepsCodes{Storage: mem(clock), codes: map[string][]string{}}
		},
		wantFail: []string{"Grant/RevokeGrant"},
	},
	{
		name: "reuse-interval-ignored",
		reuse: func(clock func() time.Time, interval time.Duration) storage.Storage {
			return mem(clock) // never given the interval
		},
		wantFail: []string{"ReplayWithin", "ConcurrentWithin"},
	},
	{
		name: "control/reuse-interval",
		reuse: func(clock func() time.Time, interval time.Duration) storage.Storage {
			return memstore.New(memstore.WithClock(clock), memstore.WithHasher(secret.ForTests()), memstore.WithReuseInterval(interval))
		},
		wantPass: []string{"ReplayWithin", "ConcurrentWithin", "RevokedHasNoInterval"},
	},
	{
		name:     "update-drops-secrets",
		newStore: func(clock func() time.Time) storage.Storage { return updateDropsSecrets{mem(clock)} },
		wantFail: []string{"Manage/UpdateKeepsSecrets"},
	},
	{
		name:     "client-secret-rotation-without-overlap",
		newStore: func(clock func() time.Time) storage.Storage { return rotationWithoutOverlap{mem(clock)} },
		wantFail: []string{"Manage/RotateSecretOverlap", "Manage/UpdateKeepsSecrets"},
	},
	{
		name: "replaced-client-secret-accepted-forever",
		newStore: func(clock func() time.Time) storage.Storage {
			return &previousSecretForever{Store: mem(clock), replaced: map[string][]string{}, current: map[string]string{}}
		},
		wantFail: []string{"Manage/RotateSecretOverlap", "Manage/RotateSecretNoOverlap", "Manage/RotateSecretTwice"},
	},
	{
		name:     "list-clients-case-folded",
		newStore: func(clock func() time.Time) storage.Storage { return listCaseFolded{mem(clock)} },
		wantFail: []string{"Manage/ListPages"},
	},
	{
		name: "list-clients-by-offset",
		newStore: func(clock func() time.Time) storage.Storage {
			return &listByOffset{Store: mem(clock), offset: map[string]int{}}
		},
		wantFail: []string{"Manage/ListStableUnderInserts"},
	},
	{
		name: "revoke-client-keeps-codes",
		newStore: func(clock func() time.Time) storage.Storage {
			return &revokeClientKeepsCodes{Store: mem(clock), codes: map[string][]*models.AuthorizationCode{}}
		},
		wantFail: []string{"Manage/RevokeClientTokens"},
	},
	{
		name:     "list-clients-any-cursor",
		newStore: func(clock func() time.Time) storage.Storage { return listAnyCursor{mem(clock)} },
		wantFail: []string{"Manage/ListInvalidCursor"},
	},
	{
		name:     "stats-miscount",
		newStore: func(clock func() time.Time) storage.Storage { return statsMiscount{mem(clock)} },
		wantFail: []string{"Manage/Stats"},
	},
	{
		name:     "context-ignored",
		newStore: func(clock func() time.Time) storage.Storage { return ctxIgnored{mem(clock)} },
		wantFail: []string{"Context/CreateClient", "Context/ConsumeAuthorizationCode", "Context/RevokeToken", "Context/PurgeExpired"},
	},
}

// pattern selects the whole suite for a control, and for a broken variant
// the groups in which subtests must fail, to keep the test fast.
func (v variant) pattern() string {
	if len(v.wantFail) == 0 || v.reuse != nil || v.keyed != nil || v.minLen != nil {
		return "^" + helperName + "$"
	}
	var groups []string
	for _, sub := range v.wantFail {
		if g, _, _ := strings.Cut(sub, "/"); !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return "^" + helperName + "$/^(" + strings.Join(groups, "|") + ")$"
}

// TestBrokenStoreHelper runs the suite against the variant brokenEnv names.
// Without brokenEnv it does nothing: it is run by TestBrokenStores only.
func TestBrokenStoreHelper(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		return
	}
	i := slices.IndexFunc(variants, func(v variant) bool { return v.name == name })
	if i < 0 {
		t.Fatalf("unknown variant %q", name)
	}
	switch v := variants[i]; {
	case v.reuse != nil:
		conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
			return v.reuse(clock, interval)
		})
		return
	case v.keyed != nil:
		conformance.RunKeyed(t, func(t *testing.T, clock func() time.Time, keys *secret.Keyed) storage.Storage {
			return v.keyed(clock, keys)
		})
		return
	case v.minLen != nil:
		conformance.RunMinCredentialLength(t, func(t *testing.T, clock func() time.Time, n int) storage.Storage {
			return v.minLen(clock, n)
		})
		return
	}
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return variants[i].newStore(clock)
	})
}

func TestBrokenStores(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run="+v.pattern(), "-test.count=1", "-test.v", "-test.timeout=5m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+v.name)
			out, err := cmd.CombinedOutput()
			s := string(out)
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("running the suite in a subprocess: %v", err)
			}
			for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "test timed out"} {
				if strings.Contains(s, bad) {
					t.Fatalf("the subprocess output contains %q: the variant must fail by assertions only\n%s", bad, s)
				}
			}
			mark := func(status, sub string) string { return "--- " + status + ": " + helperName + "/" + sub + " (" }
			if len(v.wantFail) == 0 {
				if err != nil || strings.Contains(s, "--- FAIL") {
					t.Fatalf("the suite failed on an unbroken store (%v):\n%s", err, s)
				}
				for _, sub := range v.wantPass {
					if !strings.Contains(s, mark("PASS", sub)) {
						t.Errorf("subtest %s did not pass", sub)
					}
				}
				for _, sub := range v.wantSkip {
					if !strings.Contains(s, mark("SKIP", sub)) {
						t.Errorf("subtest %s was not skipped", sub)
					}
				}
				if t.Failed() {
					t.Logf("subprocess output:\n%s", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("the suite passed on a broken store; want %s to fail:\n%s", strings.Join(v.wantFail, ", "), s)
			}
			for _, sub := range v.wantFail {
				if !strings.Contains(s, mark("FAIL", sub)) {
					t.Errorf("subtest %s did not fail", sub)
				}
			}
			if t.Failed() {
				t.Logf("subprocess output:\n%s", s)
			}
		})
	}
}
