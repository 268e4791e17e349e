// Package failover tests gormstore across the failover of a synchronously
// replicated PostgreSQL (its code is all in test files).
//
// infratest/replica/replica.sh setup creates two dedicated PostgreSQL 15
// clusters on this machine: a primary on 127.0.0.1:5442 and a streaming
// standby on 127.0.0.1:5443, with synchronous_standby_names naming the
// standby, so that a commit returns once the standby has flushed it. The
// test connects gormstore through a multi-host DSN
// (host=127.0.0.1,127.0.0.1 port=5442,5443 target_session_attrs=read-write,
// or OAUTHSTORE_TEST_FAILOVER_DSN), runs the load of
// infratest/internal/faultload (16 goroutines: creates, lookups and racing
// code exchanges), stops the primary (replica.sh stop-primary: -m
// immediate) and promotes the standby (replica.sh promote) while the load
// goes on, then checks through a fresh connection to the new primary that
// no acknowledged write was lost and no code consumed twice, and prints the
// outage: the time from the primary's stop until an operation started
// after it succeeded.
//
// It runs only with OAUTHSTORE_TEST_FAILOVER=1, since it stops the primary:
// run replica.sh setup before it and replica.sh teardown after (see
// infratest/faults.sh). Under OAUTHSTORE_TEST_REQUIRE=all clusters that
// cannot be reached fail the test.
package failover
