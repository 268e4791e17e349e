package backendkit

import (
	"time"

	"github.com/oauthstore/oauthstore/secret"
)

// Options holds the options every backend has, with the same meaning
// everywhere: the WithClock, WithHasher, WithDigestKeys,
// WithMinCredentialLength and WithReuseInterval options of a store each set
// one of them with the matching Set method, so that they behave alike on
// every backend. The zero value is the defaults: [time.Now], [secret.Default],
// unkeyed digests, no minimum credential length, no reuse interval.
//
// A store embeds or holds one while its options are applied, and reads it
// back with [Options.Clock], [Options.ClientAuth], [Options.Credentials] and
// [Options.ReuseInterval] when it is built.
type Options struct {
	clock  func() time.Time
	hasher secret.Hasher
	keys   *secret.Keyed
	minLen int
	reuse  time.Duration
}

// SetClock serves a store's WithClock: the clock of every expiry decision.
// nil keeps the default, [time.Now].
func (o *Options) SetClock(now func() time.Time) {
	if now != nil {
		o.clock = now
	}
}

// SetHasher serves a store's WithHasher: the hasher of client secrets. nil
// keeps the default, [secret.Default].
func (o *Options) SetHasher(h secret.Hasher) {
	if h != nil {
		o.hasher = h
	}
}

// SetDigestKeys serves a store's WithDigestKeys: the keys codes and tokens
// are digested under ([NewCredentials]). nil keeps the default, unkeyed
// digests.
func (o *Options) SetDigestKeys(keys *secret.Keyed) { o.keys = keys }

// SetMinCredentialLength serves a store's WithMinCredentialLength: the
// shortest code or token, in bytes, the store accepts. n <= 0 means any
// length.
func (o *Options) SetMinCredentialLength(n int) { o.minLen = max(n, 0) }

// SetReuseInterval serves a store's WithReuseInterval: the reuse interval
// of RotateToken ([ReuseWithinInterval]). d <= 0 means none.
func (o *Options) SetReuseInterval(d time.Duration) { o.reuse = max(d, 0) }

// Clock returns the store's clock: the one set, or [time.Now].
func (o *Options) Clock() func() time.Time {
	if o.clock == nil {
		return time.Now
	}
	return o.clock
}

// Hasher returns the hasher of client secrets: the one set, or
// [secret.Default].
func (o *Options) Hasher() secret.Hasher {
	if o.hasher == nil {
		return secret.Default()
	}
	return o.hasher
}

// ClientAuth returns a new [ClientAuth] on [Options.Hasher]; a store makes
// one when it is built.
func (o *Options) ClientAuth() *ClientAuth { return NewClientAuth(o.Hasher()) }

// Credentials returns the [Credentials] of the digest keys and minimum
// credential length set.
func (o *Options) Credentials() Credentials { return NewCredentials(o.keys, o.minLen) }

// ReuseInterval returns the reuse interval set, 0 for none.
func (o *Options) ReuseInterval() time.Duration { return o.reuse }
