// Package faultload is the load of the fault and failover tests
// (infratest/faults, infratest/failover): 16 goroutines, in pairs, run
// creates of tokens, lookups of them and authorization code exchanges (the
// leader of a pair creates a code, then both consume it at once) against a
// storage.Storage, every call with a 1 s deadline, through phases of a
// fixed length in which a fault is injected (by a faultproxy.Proxy, or by
// the test: a server restart, a failover).
//
// [Run] records every result, classifies every error (a storage sentinel,
// the context's error, a driver's error type, a network error; anything
// else, or an error without the store's prefix, fails the test), measures
// the time until operations succeed again after each fault, probes that
// the backend works after each phase, then checks through a direct
// connection that no acknowledged write was lost (every token and code
// whose create returned nil is there, every code whose consume returned it
// is used) and that no code was consumed twice, and prints the figures.
package faultload
