// Package secret keeps credentials out of storage in plaintext.
//
// Two kinds of credential get two kinds of hash:
//
//   - Authorization codes, access tokens and refresh tokens are random,
//     high-entropy strings that stores must find again by value. They are
//     kept under their [Digest], a SHA-256, which is fast to compute, can
//     be indexed, and cannot be reversed.
//   - Client secrets may be chosen by people and are only ever verified,
//     never looked up. They are kept as a salted, slow hash made by a
//     [Hasher]: [Bcrypt] (the [Default]) or [Argon2id]. Stores take the
//     hasher as an option, so a server can plug in its own.
//
// # Keyed digests
//
// A plain SHA-256 lets whoever holds a leaked database test guesses of a
// short or low-entropy credential offline. [Keyed] digests credentials
// with HMAC-SHA-256 under a server key kept outside the database (a
// pepper: a file, an environment variable, a secrets manager): without the
// key the digests are useless. Every store of this module takes one with
// its WithDigestKeys option. Keys rotate without downtime: put the new key
// first and keep the old ones ([NewKeyed], or [Keyed.SetKeys] at run
// time); stores write under the first and look up under each, newest
// first; drop an old key once the longest-lived credential written under
// it has expired. Removing a key makes everything written under it
// unfindable at once, which is also how to invalidate every credential in
// an emergency.
package secret
