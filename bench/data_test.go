package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
)

// The data every implementation stores: the same credentials, client IDs,
// scopes and lifetimes, built from an index so that nothing has to be kept
// to look a token up again.

// issued is when every fixture token and code is issued: the start of the
// test binary, so that go-oauth2's buntdb store (which counts its TTLs from
// time.Now) and our stores (with their default clock, time.Now) agree that
// they are live for the whole run.
var issued = time.Now().UTC().Truncate(time.Millisecond)

const (
	accessTTL  = 24 * time.Hour
	refreshTTL = 30 * 24 * time.Hour
	// codeTTL is far longer than a real code's minutes because every code
	// is issued at the start of the binary and a full run lasts longer
	// than ten minutes: a shorter one would expire codes mid-run.
	codeTTL  = 6 * time.Hour
	scope    = "openid profile email"
	redirect = "https://client.example.com/callback"
	// challenge is an S256 PKCE challenge (RFC 7636 appendix B).
	challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

var (
	clientIDs = names("client-", 100)
	userIDs   = names("user-", 1000)
	scopeList = []string{"openid", "profile", "email"}
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// Credential kinds.
const (
	kindAccess  = 'a'
	kindRefresh = 'r'
	kindCode    = 'c'
	kindMiss    = 'm'
)

// credLen is the length of every credential: that of 32 random bytes in
// unpadded base64url, what servers usually issue.
const credLen = 43

const filler = "Zq3xK9mP2vL7nR4tW" // 17 bytes
const hexDigits = "0123456789abcdef"

// cred returns credential i of kind in space: 43 bytes, unique per (kind,
// space, i). It costs one allocation, about 30 ns.
func cred(kind byte, space uint32, i uint64) string {
	var buf [credLen]byte
	buf[0], buf[1] = kind, '.'
	copy(buf[2:19], filler)
	for j := 0; j < 8; j++ {
		buf[26-j] = hexDigits[(space>>(4*j))&0xf]
	}
	for j := 0; j < 16; j++ {
		buf[42-j] = hexDigits[(i>>(4*j))&0xf]
	}
	return string(buf[:])
}

var lastSpace atomic.Uint32

// newSpace returns a credential space no other caller gets, so that tokens
// created by different fixtures and rounds never collide.
func newSpace() uint32 { return lastSpace.Add(1) }

// tokenIn is one token, as every implementation is given it.
type tokenIn struct {
	id       uint64 // unique within its space; fosite's request ID
	access   string
	refresh  string
	clientID string
	userID   string
}

// tokenAt returns token i of space. clientID "" means the fixture's own
// client IDs, spread over 100 clients.
func tokenAt(space uint32, i uint64, clientID string) tokenIn {
	if clientID == "" {
		clientID = clientIDs[i%uint64(len(clientIDs))]
	}
	return tokenIn{
		id:       uint64(space)<<40 | i,
		access:   cred(kindAccess, space, i),
		refresh:  cred(kindRefresh, space, i),
		clientID: clientID,
		userID:   userIDs[i%uint64(len(userIDs))],
	}
}

// codeIn is one authorization code.
type codeIn struct {
	id       uint64
	code     string
	clientID string
	userID   string
}

func codeAt(space uint32, i uint64, clientID string) codeIn {
	return codeIn{
		id:       uint64(space)<<40 | i,
		code:     cred(kindCode, space, i),
		clientID: clientID,
		userID:   userIDs[i%uint64(len(userIDs))],
	}
}

// maxSample bounds how many distinct stored tokens a lookup benchmark
// cycles through: enough that they do not fit in any CPU cache.
const maxSample = 1 << 16

// sample is a set of stored tokens to look up, spread evenly over a fixture
// and then shuffled (with a fixed seed), with the client ID each must come
// back with. Lookups cycle through it from the start, so the shuffle makes
// the first k lookups of a short run (a few hundred on FerretDB or over a
// network) a uniform sample of the whole fixture rather than its first
// tokens: a store whose cost depends on where a record lies (FerretDB's
// SQLite handler scans in insertion order) is measured over all of it.
type sample struct {
	space    uint32 // the fixture's credential space
	access   []string
	refresh  []string
	clientID []string
	miss     []string // credentials never stored
}

func newSample(space uint32, n int) *sample {
	k := min(n, maxSample)
	s := &sample{
		space:    space,
		access:   make([]string, k),
		refresh:  make([]string, k),
		clientID: make([]string, k),
		miss:     make([]string, k),
	}
	for j := range k {
		i := uint64(j) * uint64(n) / uint64(k)
		t := tokenAt(space, i, "")
		s.access[j], s.refresh[j], s.clientID[j] = t.access, t.refresh, t.clientID
		s.miss[j] = cred(kindMiss, space, i)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 0x0a57))
	rng.Shuffle(k, func(a, b int) {
		s.access[a], s.access[b] = s.access[b], s.access[a]
		s.refresh[a], s.refresh[b] = s.refresh[b], s.refresh[a]
		s.clientID[a], s.clientID[b] = s.clientID[b], s.clientID[a]
		s.miss[a], s.miss[b] = s.miss[b], s.miss[a]
	})
	s.access, s.refresh, s.miss = contiguous(s.access), contiguous(s.refresh), contiguous(s.miss)
	return s
}

// contiguous returns ss with its strings laid out one after the other in
// one block of memory, in order. A lookup benchmark reads credentials in
// that order, so it streams through them as a server reads each from the
// request it just received (in cache), while the stored records it looks
// up are spread at random: otherwise every lookup would also pay a cache
// miss for the benchmark's own copy of the credential.
func contiguous(ss []string) []string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s)
	}
	all := b.String()
	out := make([]string, len(ss))
	off := 0
	for i, s := range ss {
		out[i] = all[off : off+len(s)]
		off += len(s)
	}
	return out
}
