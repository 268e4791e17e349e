// Package infratest runs the conformance suite of oauthstore's database
// backends against real servers in Docker containers: gormstore on
// PostgreSQL 15 and MariaDB 10.11, mongostore on a MongoDB-protocol server
// (MongoDB 7 with the official image, FerretDB 1.24.2 on PostgreSQL with the
// local one). Containers are started through testcontainers-go by
// internal/containers; images are chosen with OAUTHSTORE_TEST_POSTGRES_IMAGE,
// OAUTHSTORE_TEST_MYSQL_IMAGE and OAUTHSTORE_TEST_MONGO_IMAGE.
//
// It is a module of its own, so that the root module's users do not get
// its dependencies; go.work at the repository root puts both in one
// workspace. See README.md for how to run it, and run.sh for what CI runs.
package infratest
