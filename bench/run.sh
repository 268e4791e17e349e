#!/usr/bin/env bash
# Runs the full benchmark measurement of bench/README.md and writes, under
# bench/results/ (or the directory given as $1):
#
#   <date>.txt          raw `go test -bench` output, every phase appended
#   <date>-machine.txt  the machine, Go and database versions
#   <date>-*.benchstat  the benchstat tables (peers, floor, scale, ...)
#
# About 25-35 minutes on 2 cores with PostgreSQL and MariaDB reachable. Run
# it on a quiet machine: nothing else compiling or benchmarking.
#
# PostgreSQL and MySQL/MariaDB are used when OAUTHSTORE_TEST_POSTGRES_DSN /
# OAUTHSTORE_TEST_MYSQL_DSN are set, or else when the local defaults below
# answer. A real MongoDB is used when OAUTHSTORE_TEST_MONGO_URI is set.
#
# BENCH_SMOKE=1 runs every phase once at -benchtime 1x -count 1, to check
# the script and the tables in about 3 minutes (the numbers mean nothing).
#
# BENCH_PHASES limits the run to some phases, by name (default: all):
#   peers      lookups, creates, code exchanges, revokes at n=10k (every db)
#   clients    AuthenticateClient at both hashers
#   purge      BenchmarkPurge
#   scale      lookups and creates at n=1M
#   conc       BenchmarkConcurrency and BenchmarkPool (1 to 256 callers)
#   purgeload  BenchmarkPurgeUnderLoad (1M expired tokens purged under lookups)
# e.g. BENCH_PHASES="conc purgeload" bench/run.sh. Tables of phases not run
# come out empty.
set -uo pipefail

cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
stamp=$(date -u +%Y-%m-%d)
raw="$out/$stamp.txt"
machine="$out/$stamp-machine.txt"
# BENCH_TABLES_ONLY=1 keeps the raw results of the day and only remakes the
# tables, e.g. after re-running one family by hand and appending it.
[ "${BENCH_TABLES_ONLY:-}" = 1 ] || : >"$raw"

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -z "${OAUTHSTORE_TEST_POSTGRES_DSN:-}" ] && reachable 127.0.0.1 5432; then
	export OAUTHSTORE_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
fi
if [ -z "${OAUTHSTORE_TEST_MYSQL_DSN:-}" ] && reachable 127.0.0.1 3306; then
	export OAUTHSTORE_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test'
fi

# benchstat, at a pinned version, in a temporary GOBIN.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
benchstat_version=v0.0.0-20260908200009-22c9c6c9d4da
GOBIN="$tmp" go install "golang.org/x/perf/cmd/benchstat@$benchstat_version" || exit 1
benchstat="$tmp/benchstat"

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version)"
	echo "kernel: $(uname -srm)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) $(git status --porcelain 2>/dev/null | grep -q . && echo '(dirty tree)')"
	echo "postgres: $([ -n "${OAUTHSTORE_TEST_POSTGRES_DSN:-}" ] && echo set || echo unset)"
	echo "mysql: $([ -n "${OAUTHSTORE_TEST_MYSQL_DSN:-}" ] && echo set || echo unset)"
	echo "mongodb: $([ -n "${OAUTHSTORE_TEST_MONGO_URI:-}" ] && echo set || echo unset)"
	if command -v psql >/dev/null && [ -n "${OAUTHSTORE_TEST_POSTGRES_DSN:-}" ]; then
		echo "postgres version: $(psql "$OAUTHSTORE_TEST_POSTGRES_DSN" -Atc 'SELECT version()' 2>/dev/null)"
	fi
	if command -v mysql >/dev/null && [ -n "${OAUTHSTORE_TEST_MYSQL_DSN:-}" ]; then
		echo "mysql version: $(mysql -h127.0.0.1 -uroot -Nse 'SELECT VERSION()' 2>/dev/null)"
	fi
} >"$machine.new"
if [ "${BENCH_TABLES_ONLY:-}" = 1 ] && [ -s "$machine" ]; then
	rm -f "$machine.new"
else
	mv "$machine.new" "$machine"
fi

failed=0
# want NAME: is phase NAME part of this run (BENCH_PHASES)?
want() { [ -z "${BENCH_PHASES:-}" ] || [[ " $BENCH_PHASES " == *" $1 "* ]]; }
# phase NAME BENCHTIME COUNT REGEXP [VAR=value ...] appends one go test run
# to $raw, if NAME is wanted.
phase() {
	local name=$1 benchtime=$2 count=$3 re=$4
	shift 4
	want "$name" || return 0
	if [ "${BENCH_SMOKE:-}" = 1 ]; then
		benchtime=1x count=1
	fi
	if [ "${BENCH_TABLES_ONLY:-}" = 1 ]; then
		return
	fi
	echo "== -bench '$re' -benchtime $benchtime -count $count $*" >&2
	local start=$SECONDS
	if ! env "$@" go test -run '^$' -timeout 3h -bench "$re" -benchtime "$benchtime" -count "$count" ./bench/ | tee -a "$raw"; then
		echo "!! phase failed: $re" >&2
		failed=1
	fi
	echo "== took $((SECONDS - start)) s" >&2
}

dbs='(sqlite|postgres|mysql|ferretdb|mongodb)'
cheap='^Benchmark(GetByAccess|GetByAccessMiss|GetByRefresh|CreateToken|ExchangeCode)$'

# 1. Lookups, creates and code exchanges at n=10k, every target: time-based,
#    100 ms per benchmark (100k-1M iterations in memory, 300-1000 on a SQL
#    server, a few on FerretDB, whose slow operations take 50-150 ms).
phase peers 100ms 10 "$cheap" OAUTHSTORE_BENCH_LARGE=0

# 2. Revoke creates its b.N tokens before the timer starts, so it runs a
#    fixed number of iterations per database group rather than a time.
phase peers 20000x 10 '^BenchmarkRevoke$/db=memory/' OAUTHSTORE_BENCH_LARGE=0
phase peers 300x 10 '^BenchmarkRevoke$/db=(sqlite|postgres|mysql)/' OAUTHSTORE_BENCH_LARGE=0
phase peers 3x 10 '^BenchmarkRevoke$/db=(ferretdb|mongodb)/' OAUTHSTORE_BENCH_LARGE=0

# 3. Client authentication: bcrypt at cost 10 takes about 50-60 ms per call,
#    so 5 calls per run; at cost 4 a time.
phase clients 5x 10 '^BenchmarkAuthenticateClient$/hasher=default/'
phase clients 100ms 10 '^BenchmarkAuthenticateClient$/hasher=fast/'

# 4. Purge: one iteration stores 100k expired tokens (untimed) and purges
#    them. 6 runs, the fewest benchstat gives a confidence interval for.
phase purge 1x 6 '^BenchmarkPurge$'

# 5. Scale: the same lookups and creates at n=1M, for memstore, SQLite and
#    PostgreSQL. Filling 1M tokens takes about 5 s (memstore), 35 s
#    (SQLite) and 35 s (PostgreSQL), once per process.
#    The peers' CreateToken is left out: they fill a fresh store per run,
#    which at 1M takes longer than the run. With 1M-token fixtures of
#    three stores in memory the heap holds millions of objects, and the
#    full collection the testing package runs before each benchmark run
#    takes seconds: the memory rows take about 15 minutes.
phase scale 100ms 10 '^Benchmark(GetByAccess|GetByAccessMiss|GetByRefresh)$/db=(memory|sqlite|postgres)/impl=(memstore|sha256-map|fosite-memory|gormstore|gormstore-unprepared|rawsql|rawsql-prepared)/n=1M/' OAUTHSTORE_BENCH_LARGE=1
phase scale 100ms 10 '^BenchmarkCreateToken$/db=(memory|sqlite|postgres)/impl=(memstore|gormstore)/n=1M/' OAUTHSTORE_BENCH_LARGE=1

# 6. Concurrency: 1, 8, 64 and 256 callers, each store next to the raw
#    driver on the same pool, and gormstore's pool sizes at 64 callers.
#    FerretDB serialises requests and scans for some (a rotation takes
#    seconds), so only its lookups and creates run, a few times each.
#    About 20 minutes.
#    Ten processes of -count 1, raw first in every other one
#    (OAUTHSTORE_BENCH_RAW_FIRST): with -count 10 in one process, the ten
#    runs of the store would all come before raw's, under other conditions.
for i in 0 1 2 3 4 5 6 7 8 9; do
	[ "${BENCH_SMOKE:-}" = 1 ] && [ "$i" -gt 0 ] && break
	phase conc 200ms 1 '^BenchmarkConcurrency$/op=.*/db=(memory|sqlite|postgres|mysql|redis|mongodb)/' OAUTHSTORE_BENCH_RAW_FIRST=$((i % 2))
done
phase conc 200ms 10 '^BenchmarkPool$'
phase conc 5x 10 '^BenchmarkConcurrency$/op=(lookup|create)/db=ferretdb/'

# 7. Purging expired tokens while 4 goroutines look live ones up: one
#    iteration imports the expired tokens (untimed), then measures lookup
#    latency without and during the purge. PostgreSQL at 1M (about 70 s an
#    iteration). SQLite at 100k: on one connection a lookup waits behind
#    each DELETE, whatever the size (a 1M purge takes 3-4 minutes there),
#    next to the store plus a query-only pool for the lookups (1+4r), also
#    with a single looker, which leaves a core free. About 25 minutes.
phase purgeload 1x 10 '^BenchmarkPurgeUnderLoad$/db=postgres/impl=gormstore/n=1M/batch=1000/pool=8/' OAUTHSTORE_BENCH_LARGE=1
phase purgeload 1x 6 '^BenchmarkPurgeUnderLoad$/db=sqlite/impl=gormstore/n=100k/batch=1000/pool=(1|1\+4r)/' OAUTHSTORE_BENCH_LARGE=1
phase purgeload 1x 6 '^BenchmarkPurgeUnderLoad$/db=sqlite/impl=gormstore/n=100k/batch=1000/pool=(1|1\+4r)/' OAUTHSTORE_BENCH_LARGE=1 OAUTHSTORE_BENCH_PURGE_LOOKERS=1

# Tables. benchstat compares every column with the first one of its -col
# order: "vs base" is that ratio, with its p-value.
bs() {
	local name=$1
	shift
	echo "== $name" >&2
	"$benchstat" "$@" "$raw" >"$out/$stamp-$name.benchstat" 2>&1 || failed=1
}
# memstore against go-oauth2's stores (base) and against fosite's (base).
peers="/db:memory -/n:1M -.name:Purge"
bs peers-gooauth2 -filter "$peers" -col '/impl@(gooauth2-buntdb memstore fosite-memory)'
bs peers-fosite -filter "$peers" -col '/impl@(fosite-memory memstore)'
# Each store against its floor (base): the hand-written lookup.
bs floor-sql -filter '.name:GetByAccess' -col '/impl@(rawsql-prepared rawsql gormstore gormstore-unprepared)'
bs floor-memory -filter '.name:(GetByAccess OR GetByAccessMiss OR GetByRefresh) /db:memory' -col '/impl@(sha256-map memstore)'
bs floor-mongo -filter '.name:GetByAccess' -col '/impl@(findone mongostore)'
# 1M against 10k (base).
bs scale -filter '.name:(GetByAccess OR GetByAccessMiss OR GetByRefresh OR CreateToken) /db:(memory OR sqlite OR postgres) /impl:(memstore OR sha256-map OR fosite-memory OR gormstore OR gormstore-unprepared OR rawsql OR rawsql-prepared)' -col '/n@(10k 1M)'
# Parallel against serial (base).
bs modes -col '/mode@(serial parallel)'
# Client authentication and purge, all units.
bs clients -filter '.name:AuthenticateClient' -col '/impl'
bs purge -filter '.name:Purge'
# Concurrency: the store against raw (base) at every caller count; pool
# sizes; the purge's effect on lookup latency.
bs concurrency -filter '.name:Concurrency' -col '/impl@(raw gormstore mongostore redisstore memstore)'
bs pool -filter '.name:Pool' -col /pool
bs purgeload -filter '.name:PurgeUnderLoad'
# Everything, one row per benchmark.
bs all
# The throughput curves and pool sizes as SVG, from the raw results.
if grep -q '^BenchmarkConcurrency/' "$raw"; then
	go run ./bench/cmd/benchplot -date "$stamp" -ratio 64 -o "$out/$stamp-concurrency.svg" "$raw" 2>"$out/$stamp-concurrency-ratio.txt" || failed=1
fi
if grep -q '^BenchmarkPool/' "$raw"; then
	go run ./bench/cmd/benchplot -date "$stamp" -bench BenchmarkPool -x pool -rows impl -cols op -series db -o "$out/$stamp-pool.svg" "$raw" || failed=1
fi

ls -l "$out"/"$stamp"* >&2
if [ "$failed" != 0 ]; then
	echo "some phases or tables failed; see above" >&2
	exit 1
fi
