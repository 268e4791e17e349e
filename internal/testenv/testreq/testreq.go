// Package testreq decides what a test does when a server it needs cannot be
// reached: skip, with a message naming the variable to set, or fail under
// OAUTHSTORE_TEST_REQUIRE=all (CI sets it).
//
// It imports only the standard library, so that the tests of a backend
// package (redisstore, mongostore) can use it without adding a module to
// the go.sum of that package's users: `go mod tidy` in a user's module
// records the test dependencies of every package the user imports.
package testreq

import (
	"os"
	"testing"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = "OAUTHSTORE_TEST_REQUIRE"

// Required reports whether unreachable backends must fail the test.
func Required() bool { return os.Getenv(RequireEnv) == "all" }

// Unavailable skips t, or fails it under OAUTHSTORE_TEST_REQUIRE=all, saying
// which backend is missing and which variable to set.
func Unavailable(t testing.TB, backend, variable, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s unreachable (%s) and %s=all: set %s", backend, why, RequireEnv, variable)
	}
	t.Skipf("%s unavailable (%s): set %s to test against it", backend, why, variable)
}
