#!/usr/bin/env bash
# faults.sh: the fault-injection load tests and the failover test, as CI
# runs them, every backend required (OAUTHSTORE_TEST_REQUIRE=all):
#
#   faults.sh faults    the fault proxy's unit tests, then gormstore on
#                       PostgreSQL and MariaDB and mongostore on FerretDB
#                       through the proxy (infratest/faults). Needs the
#                       servers of OAUTHSTORE_TEST_POSTGRES_DSN and
#                       OAUTHSTORE_TEST_MYSQL_DSN (defaults: the local ones
#                       .ci/run starts); builds infratest/cmd/ferretdb unless
#                       OAUTHSTORE_TEST_FERRETDB_BIN names a binary.
#                       About 1.5 min (plus 5 to 10 min the first time, to
#                       build FerretDB with -race and without it).
#   faults.sh failover  replica/replica.sh setup (PostgreSQL 15 clusters on
#                       5442 and 5443; root or sudo), the failover test
#                       (infratest/failover), replica.sh teardown, even when
#                       the test fails. About 1 min.
#   faults.sh [all]     both.
#
# Extra arguments go to go test, e.g. faults.sh faults -run TestFaultsMariaDB
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"

step() { printf '\n=== [faults.sh %4ss] %s\n' "$SECONDS" "$*"; }

export OAUTHSTORE_TEST_REQUIRE=all
export OAUTHSTORE_TEST_POSTGRES_DSN=${OAUTHSTORE_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export OAUTHSTORE_TEST_MYSQL_DSN=${OAUTHSTORE_TEST_MYSQL_DSN:-root@tcp(127.0.0.1:3306)/test}

what=${1:-all}
[ $# -gt 0 ] && shift
case "$what" in
  faults | failover | all) ;;
  *) echo "usage: $0 [faults|failover|all] [go test arguments]" >&2; exit 2 ;;
esac

cd "$root"
pkg=./infratest
if [ -z "$(go env GOWORK)" ]; then
  # No go.work (or GOWORK=off): run from the nested module itself.
  cd "$here"
  pkg=.
fi

if [ "$what" = faults ] || [ "$what" = all ]; then
  step "go vet, the fault proxy's unit tests"
  go vet "$pkg/internal/faultproxy" "$pkg/internal/faultload" "$pkg/faults" "$pkg/failover"
  go test -race -count=1 "$pkg/internal/faultproxy"
  step "fault-injection load tests: PostgreSQL, MariaDB, FerretDB"
  OAUTHSTORE_TEST_FAULTS=1 go test -race -count=1 -v -timeout 30m "$@" "$pkg/faults"
fi

if [ "$what" = failover ] || [ "$what" = all ]; then
  step "replicated PostgreSQL: replica.sh setup"
  trap 'step "replica.sh teardown"; bash "$here/replica/replica.sh" teardown' EXIT
  bash "$here/replica/replica.sh" setup
  step "failover test"
  OAUTHSTORE_TEST_FAILOVER=1 go test -race -count=1 -v -timeout 10m "$@" "$pkg/failover"
fi

step "done"
