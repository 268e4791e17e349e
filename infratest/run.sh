#!/usr/bin/env bash
# run.sh: what CI runs for the infrastructure tests, on a Debian machine
# that reaches Debian's package archive and the Go module proxy but no image
# registry:
#
#   1. images/dockerd.sh  installs and starts a Docker engine if none answers;
#   2. images/build.sh    builds (or finds cached) the local images;
#   3. go vet, then go test -race on ./infratest/... from the repository
#      root (through go.work), every backend required, the images chosen
#      by OAUTHSTORE_TEST_*_IMAGE.
#
# Prints the time of each step. Extra arguments go to go test, e.g.
#   infratest/run.sh -run 'TestGormPostgres/ReuseInterval' -v
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"

step() { printf '\n=== [run.sh %4ss] %s\n' "$SECONDS" "$*"; }

step "Docker engine"
bash "$here/images/dockerd.sh"

step "images"
bash "$here/images/build.sh"

export OAUTHSTORE_TEST_REQUIRE=all
export OAUTHSTORE_TEST_POSTGRES_IMAGE=oauthstore-test/postgres:15
export OAUTHSTORE_TEST_MYSQL_IMAGE=oauthstore-test/mariadb:10.11
export OAUTHSTORE_TEST_MONGO_IMAGE=oauthstore-test/ferretdb:1.24.2
# Ryuk's image cannot be pulled offline; the tests remove their containers.
export TESTCONTAINERS_RYUK_DISABLED=true

cd "$root"
pkgs=./infratest/...
if [ -z "$(go env GOWORK)" ]; then
  # No go.work (or GOWORK=off): run from the nested module itself.
  cd "$here"
  pkgs=./...
fi

step "go vet $pkgs"
go vet "$pkgs"

step "go test -race $pkgs"
go test -race -count=1 -timeout 30m "$@" "$pkgs"

step "done"
