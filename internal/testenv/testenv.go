// Package testenv gives the project's tests SQL databases: SQLite, which
// always runs, and PostgreSQL and MySQL or MariaDB servers reached through
// environment variables ([PostgresEnv], [MySQLEnv]).
//
// A server that cannot be reached is skipped with a message naming the
// variable to set, unless OAUTHSTORE_TEST_REQUIRE=all, which turns the skip
// into a failure (CI sets it).
//
// The package keeps its imports to what gormstore's users already have
// (gorm and its drivers), because `go mod tidy` in a user's module records
// the test dependencies of every package the user imports. Servers in
// containers (testcontainers-go) are the nested infratest module's; the
// MongoDB-protocol servers (FerretDB as a child process, MongoDB at a URI)
// are in [github.com/oauthstore/oauthstore/internal/testenv/mongoenv]; the
// skip-or-fail rule alone, with no dependency, is in
// [github.com/oauthstore/oauthstore/internal/testenv/testreq].
package testenv

import (
	"testing"

	"github.com/oauthstore/oauthstore/internal/testenv/testreq"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = testreq.RequireEnv

// Required reports whether unreachable backends must fail the test.
func Required() bool { return testreq.Required() }

// Unavailable skips t, or fails it under OAUTHSTORE_TEST_REQUIRE=all, saying
// which backend is missing and which variable to set.
func Unavailable(t testing.TB, backend, variable, why string) {
	t.Helper()
	testreq.Unavailable(t, backend, variable, why)
}
