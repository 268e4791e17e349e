// Package gosumtest holds no code: its test keeps the promise of the
// README's "Dependencies" table, that a module importing one of the
// library's packages gets only that package's own dependencies (and those
// of its tests, which `go mod tidy` records too) in its go.sum.
//
// For each row of the table, the test writes a temporary module that
// imports only that package, with a replace directive to this repository,
// runs `go mod tidy` in it offline (GOPROXY=off, GOWORK=off, the module
// cache of the test run; if a module is missing from the cache, it runs
// again through the GOPROXY of the environment), and fails if its go.sum
// has more lines than the table says, or names a module that only the
// project's own tests and tools need: testcontainers-go, Docker's client
// libraries, FerretDB, SQLite in Go, the MongoDB driver v1, the
// OpenTelemetry SDK or fosite.
package gosumtest
