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
package secret
