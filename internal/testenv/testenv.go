// Package testenv gives the project's tests real databases: embedded ones
// that always run, and servers reached through environment variables or,
// where a Docker engine answers, testcontainers-go.
//
// A backend that cannot be reached is skipped with a message naming the
// variable to set, unless OAUTHSTORE_TEST_REQUIRE=all, which turns the skip
// into a failure (CI sets it).
package testenv

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
