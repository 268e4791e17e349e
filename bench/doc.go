// Package bench holds the project's benchmarks: every store against the
// stores users would pick instead, and against the floor, the same lookup
// written by hand on the raw driver. It has no API; everything is in its
// _test.go files.
//
// # Running
//
//	go test -run '^$' -bench . -count 10 ./bench/ | tee new.txt
//	benchstat -col /impl new.txt
//
// bench/run.sh runs the full measurement (about 75-90 minutes on 2 cores)
// and writes the benchstat tables and, with cmd/benchplot, the SVG plots of
// throughput against concurrent callers; bench/README.md explains every
// benchmark, every column and the targets.
//
// # Naming
//
// Every benchmark is named Benchmark<Operation>/db=<db>/impl=<impl>/n=<size>/mode=<mode>,
// so that benchstat can put peers side by side (-col /impl), sizes side by
// side (-col /n) and serial next to parallel (-col /mode). BenchmarkConcurrency
// is named by op, db, impl and callers (1 to 256 goroutines), BenchmarkPool
// by pool size, BenchmarkPurgeUnderLoad by batch, pool and lookers.
//
// # Environment
//
//   - OAUTHSTORE_BENCH_LARGE=1 adds the n=1M size (off by default so that CI's
//     -benchtime 1x smoke run stays fast).
//   - OAUTHSTORE_TEST_POSTGRES_DSN, OAUTHSTORE_TEST_MYSQL_DSN and
//     OAUTHSTORE_TEST_MONGO_URI add those servers; benchmarks needing an
//     unset one are skipped, or fail under OAUTHSTORE_TEST_REQUIRE=all.
//     SQLite and FerretDB (a child process) always run.
//   - OAUTHSTORE_BENCH_RAW_FIRST=1 runs BenchmarkConcurrency's raw driver
//     before each store (run.sh alternates it between -count 1 runs).
//   - OAUTHSTORE_BENCH_PURGE_LOOKERS sets how many goroutines look tokens up
//     during BenchmarkPurgeUnderLoad (default 4).
package bench
