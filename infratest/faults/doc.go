// Package faults holds load tests of oauthstore's database backends with
// faults injected between the store and its server (its code is all in
// test files): gormstore on PostgreSQL and on MariaDB, and mongostore on
// FerretDB (PostgreSQL handler), each through a TCP fault proxy
// (infratest/internal/faultproxy).
//
// Each backend runs a bounded load (16 goroutines, a few seconds a phase:
// creates of tokens, lookups of them, and authorization code exchanges in
// which two goroutines race to consume the same code, every call with a
// deadline) through five phases: clean, connection resets, latency, a stall
// longer than the callers' deadline, and a server restart (the proxy
// refusing and resetting everything for a second for PostgreSQL and
// MariaDB; FerretDB is really killed and started again). The tests assert
// that no acknowledged write is lost (every create that returned nil, and
// every consume that won, is found afterwards through a direct
// connection), that no code is consumed twice, that every error is a
// storage sentinel, a context error or a driver or network error wrapped
// by the store, and that no goroutine is left after the store, its
// connections and the proxy are closed. They print the operations, the
// errors by class and the time until operations succeed again after each
// fault.
//
// They run only with OAUTHSTORE_TEST_FAULTS=1 (about half a minute a
// backend), against the servers of OAUTHSTORE_TEST_POSTGRES_DSN and
// OAUTHSTORE_TEST_MYSQL_DSN; FerretDB is started as a child process
// (infratest/cmd/ferretdb, built by the test unless
// OAUTHSTORE_TEST_FERRETDB_BIN names a binary) on a database of its own on
// that PostgreSQL server. Under OAUTHSTORE_TEST_REQUIRE=all an unreachable
// server fails the test. infratest/faults.sh runs them as CI does.
package faults
