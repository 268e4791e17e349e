// Package grantflows holds no code: its tests run go-oauth2's grant flows
// through the gooauth2 adapter on every backend (memory, SQLite, FerretDB,
// PostgreSQL, MySQL).
//
// They live here, not in package gooauth2, because `go mod tidy` in a
// module that imports gooauth2 records the dependencies of gooauth2's own
// tests: tests there that open gormstore and mongostore stores would put
// gorm, its drivers and the MongoDB driver in the go.sum of every gooauth2
// user. Nothing imports this package, so its tests cost users nothing.
package grantflows
