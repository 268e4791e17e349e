package storage

// Limits on what a store accepts, the same on every backend, so that
// records move between backends and a database's column width never
// decides. Every string field of a record, credentials included, must be
// valid UTF-8 without NUL bytes; a field over its limit, or a list with
// more entries than its limit, is [ErrInvalid] and nothing is written.
// Lengths are in bytes. A lookup by a value that could never be stored (too
// long, invalid UTF-8, NUL) is [ErrNotFound].
const (
	// MaxIDLen bounds identifiers: client IDs, grant IDs and user IDs.
	MaxIDLen = 255
	// MaxCredentialLen bounds client secrets, authorization codes, access
	// tokens and refresh tokens (stores keep only digests and hashes of
	// them, so a long JWT fits).
	MaxCredentialLen = 8192
	// MaxScopeLen bounds a space-separated scope.
	MaxScopeLen = 4096
	// MaxRedirectURILen bounds one redirect URI, and MaxRedirectURIs the
	// number a client registers.
	MaxRedirectURILen = 2048
	MaxRedirectURIs   = 32
	// MaxCodeChallengeLen bounds a PKCE code challenge (RFC 7636 4.1 and
	// 4.2: a plain challenge is the verifier, at most 128 characters).
	MaxCodeChallengeLen = 128
	// MaxNonceLen bounds an OpenID Connect nonce.
	MaxNonceLen = 1024
	// MaxShortLen bounds the short descriptive fields: a code's response
	// type and a token's type.
	MaxShortLen = 255
)
