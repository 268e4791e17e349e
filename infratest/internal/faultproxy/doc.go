// Package faultproxy is a TCP proxy for tests that breaks the connection
// between a client and its server on demand.
//
// A [Proxy] listens on 127.0.0.1 at a free port and forwards every
// connection it accepts to one target address, byte for byte, in both
// directions. While it runs, a test can:
//
//   - [Proxy.ResetAll]: close every open connection with a TCP reset (both
//     the client's and the server's side see "connection reset by peer");
//   - [Proxy.SetLatency]: hold every chunk of data for a delay before
//     forwarding it, in both directions (a round trip gets twice the delay);
//   - [Proxy.Stall]: stop forwarding while keeping every socket open, so
//     that the client waits for an answer that does not come until
//     [Proxy.Resume]; connections accepted meanwhile are stalled too;
//   - [Proxy.Down]: act as a server that went away: close the listener, so
//     that new connections are refused (ECONNREFUSED), and reset every open
//     one; [Proxy.Up] listens again on the same address;
//   - [Proxy.Resume]: end a stall and any latency (not a Down).
//
// It uses the standard library only. [Proxy.Close] stops it, closes every
// connection and waits for all of its goroutines.
package faultproxy
