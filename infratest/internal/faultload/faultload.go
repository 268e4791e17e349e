package faultload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/infratest/internal/faultproxy"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// FaultsEnv must be 1 for the fault tests to run.
const FaultsEnv = "OAUTHSTORE_TEST_FAULTS"

const (
	// Workers is the number of goroutines of the load, in pairs.
	Workers = 16
	// CallTimeout is the deadline of every call the load makes.
	CallTimeout = time.Second
	// recoverWithin bounds how long a backend may take to work again after
	// a phase: generous, since this asserts recovery, not its speed.
	recoverWithin = 30 * time.Second
	// verifyTimeout bounds each lookup of the final verification.
	verifyTimeout = 10 * time.Second
)

// RequireFaults skips t unless the fault tests were asked for
// ([FaultsEnv]=1) and -short is off.
func RequireFaults(t *testing.T) {
	t.Helper()
	if os.Getenv(FaultsEnv) != "1" {
		t.Skipf("fault-injection load test: set %s=1 to run it (about 30 s a backend)", FaultsEnv)
	}
	if testing.Short() {
		t.Skip("fault-injection load test: not in -short mode")
	}
}

// Backend is a store under test.
type Backend struct {
	Name string
	// Store is the store under load (through Proxy, if any); Direct, on
	// the same data, is reached without faults, for the verification.
	Store, Direct storage.Storage
	// OpenDirect, if not nil, opens Direct after the phases (for a
	// failover, whose new primary is known only then).
	OpenDirect func(t *testing.T) storage.Storage
	// Proxy, if not nil, is the fault proxy in front of Store's server;
	// [FaultPhases] need it.
	Proxy *faultproxy.Proxy
	// Prefix begins every error the store returns ("gormstore: ").
	Prefix string
	// DriverClass classifies a driver's own error types ("" if unknown).
	DriverClass func(error) string
	// RestartDown and RestartUp are the "server restart" fault of
	// [FaultPhases]: the server goes away, then comes back.
	RestartDown func(t *testing.T)
	RestartUp   func(t *testing.T)
	// RestartHow describes the restart in the figures.
	RestartHow string
}

// span is the start and end of a successful operation.
type span struct{ start, end time.Time }

// phaseStats is what one phase of the load did.
type phaseStats struct {
	mu        sync.Mutex
	ops, ok   int
	classes   map[string]int
	successes []span
	examples  map[string]string // a message per error class
	unknown   []string          // messages of unclassified errors
}

func (s *phaseStats) record(class string, start, end time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	if err == nil {
		s.ok++
		s.successes = append(s.successes, span{start, end})
		return
	}
	s.classes[class]++
	if _, ok := s.examples[class]; !ok {
		s.examples[class] = err.Error()
	}
	if strings.HasPrefix(class, "UNKNOWN") && len(s.unknown) < 10 {
		s.unknown = append(s.unknown, err.Error())
	}
}

// ledger is what the load was told succeeded, across phases, to check
// afterwards. Credentials stay in memory: they are never printed.
type ledger struct {
	mu     sync.Mutex
	tokens []string         // access tokens of acknowledged CreateToken calls
	codes  map[string]*code // acknowledged CreateAuthorizationCode calls
	// lost counts acknowledged writes a later call did not find, during
	// the load (the final verification counts its own).
	lost int
	// anomalies are results no fault excuses (a lookup of a live token
	// answering revoked, say), as messages without credentials.
	anomalies []string
}

type code struct {
	wins     int // consumes that returned the code
	attempts int // consumes that were made
}

func (l *ledger) addToken(access string) {
	l.mu.Lock()
	l.tokens = append(l.tokens, access)
	l.mu.Unlock()
}

func (l *ledger) addCode(c string) {
	l.mu.Lock()
	l.codes[c] = &code{}
	l.mu.Unlock()
}

func (l *ledger) consumed(c string, won bool) {
	l.mu.Lock()
	l.codes[c].attempts++
	if won {
		l.codes[c].wins++
	}
	l.mu.Unlock()
}

func (l *ledger) anomaly(format string, args ...any) {
	l.mu.Lock()
	l.anomalies = append(l.anomalies, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *ledger) lostWrite() {
	l.mu.Lock()
	l.lost++
	l.mu.Unlock()
}

// runner runs the load on a backend.
type runner struct {
	t     *testing.T
	b     *Backend
	led   *ledger
	clock func() time.Time
	seed  uint64
}

type opKind int

const (
	opNone opKind = iota
	opCreateToken
	opLookup
	opExchange
)

// step is what a pair's leader tells its follower to do.
type step struct {
	op   opKind
	code string // opExchange: the code both consume
}

func Credential() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// worker is one goroutine of the load: its own random source and the
// tokens it created, which its lookups read.
type worker struct {
	r      *runner
	st     *phaseStats
	rng    *mrand.Rand
	tokens []string
}

func (w *worker) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	w.st.record(w.r.classify(err), start, time.Now(), err)
	return err
}

func (w *worker) createToken() {
	now := w.r.clock()
	tok := &models.Token{
		AccessToken: Credential(), RefreshToken: Credential(), ClientID: "faults-client",
		Scope: "read", IssuedAt: now, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 2 * time.Hour,
	}
	if err := w.call(func(ctx context.Context) error { return w.r.b.Store.CreateToken(ctx, tok) }); err == nil {
		w.tokens = append(w.tokens, tok.AccessToken)
		w.r.led.addToken(tok.AccessToken)
	}
}

func (w *worker) lookup() {
	if len(w.tokens) == 0 {
		w.createToken()
		return
	}
	access := w.tokens[w.rng.IntN(len(w.tokens))]
	err := w.call(func(ctx context.Context) error {
		_, err := w.r.b.Store.GetTokenByAccess(ctx, access)
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrNotFound):
		w.r.led.lostWrite()
		w.r.led.anomaly("lookup of an acknowledged token: %v", err)
	case isSentinel(err):
		w.r.led.anomaly("lookup of a live token: %v", err)
	}
}

// createCode creates a code and returns it, or "" if the store did not
// acknowledge it.
func (w *worker) createCode() string {
	now := w.r.clock()
	c := &models.AuthorizationCode{
		Code: Credential(), ClientID: "faults-client", RedirectURI: "https://client.example/cb",
		Scope: "read", AuthTime: now, ExpiresIn: 10 * time.Minute,
	}
	if err := w.call(func(ctx context.Context) error { return w.r.b.Store.CreateAuthorizationCode(ctx, c) }); err != nil {
		return ""
	}
	w.r.led.addCode(c.Code)
	return c.Code
}

func (w *worker) consume(c string) {
	err := w.call(func(ctx context.Context) error {
		_, err := w.r.b.Store.ConsumeAuthorizationCode(ctx, c)
		return err
	})
	w.r.led.consumed(c, err == nil)
	switch {
	case err == nil, errors.Is(err, storage.ErrAlreadyUsed):
	case errors.Is(err, storage.ErrNotFound):
		w.r.led.lostWrite()
		w.r.led.anomaly("consume of an acknowledged code: %v", err)
	case isSentinel(err):
		w.r.led.anomaly("consume of a live code: %v", err)
	}
}

func (w *worker) do(st step) {
	switch st.op {
	case opCreateToken:
		w.createToken()
	case opLookup:
		w.lookup()
	case opExchange:
		if st.code != "" {
			w.consume(st.code)
		}
	}
}

// pair runs a leader and its follower until end. At each step the leader
// picks the operation: for a code exchange it creates the code, then both
// consume it at once; otherwise each does one of its own.
func (r *runner) pair(st *phaseStats, seed uint64, end time.Time) {
	var wg sync.WaitGroup
	steps := make(chan step)
	follower := &worker{r: r, st: st, rng: mrand.New(mrand.NewPCG(seed, 2))}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for s := range steps {
			follower.do(s)
		}
	}()
	leader := &worker{r: r, st: st, rng: mrand.New(mrand.NewPCG(seed, 1))}
	for time.Now().Before(end) {
		var s step
		switch n := leader.rng.IntN(10); {
		case n < 4:
			s.op = opCreateToken
		case n < 7:
			s.op = opLookup
		default:
			s.op = opExchange
			s.code = leader.createCode()
		}
		steps <- s
		leader.do(s)
	}
	close(steps)
	wg.Wait()
}

// Phase is one stretch of load, with a fault or not.
type Phase struct {
	Name   string
	Length time.Duration
	// Fault runs in the test's goroutine while the load runs; at(d) waits
	// until d after the phase started; it returns the instants after which
	// operations are expected to succeed again (the ends of the faults).
	Fault func(t *testing.T, b *Backend, at func(time.Duration)) (ends []time.Time)
}

// FaultPhases are the phases of the fault tests: clean, connection resets,
// latency, a stall longer than the callers' deadline, and a restart
// (b.RestartDown, then b.RestartUp a second later).
func FaultPhases() []Phase {
	return []Phase{
		{Name: "clean", Length: 3 * time.Second},
		{Name: "resets", Length: 4 * time.Second,
			Fault: func(t *testing.T, b *Backend, at func(time.Duration)) []time.Time {
				// A reset of every connection each 400 ms.
				var ends []time.Time
				for i := 1; i <= 8; i++ {
					at(time.Duration(i) * 400 * time.Millisecond)
					b.Proxy.ResetAll()
					ends = append(ends, time.Now())
				}
				return ends
			}},
		{Name: "latency 25ms", Length: 3 * time.Second,
			Fault: func(t *testing.T, b *Backend, at func(time.Duration)) []time.Time {
				// Every chunk held 25 ms each way, then none.
				b.Proxy.SetLatency(25 * time.Millisecond)
				at(2500 * time.Millisecond)
				b.Proxy.Resume()
				return []time.Time{time.Now()}
			}},
		{Name: "stall 2.5s", Length: 4500 * time.Millisecond,
			Fault: func(t *testing.T, b *Backend, at func(time.Duration)) []time.Time {
				// Longer than the callers' 1 s deadline.
				at(500 * time.Millisecond)
				b.Proxy.Stall()
				at(3 * time.Second)
				b.Proxy.Resume()
				return []time.Time{time.Now()}
			}},
		{Name: "restart", Length: 4500 * time.Millisecond,
			Fault: func(t *testing.T, b *Backend, at func(time.Duration)) []time.Time {
				at(500 * time.Millisecond)
				b.RestartDown(t)
				at(1500 * time.Millisecond)
				b.RestartUp(t)
				return []time.Time{time.Now()}
			}},
	}
}

// phaseResult is the figures of one phase.
type phaseResult struct {
	name       string
	ops, ok    int
	classes    map[string]int
	faults     int
	recoveries []time.Duration // after each fault's end, until an operation started after it succeeded
	outage     time.Duration   // the longest time without a successful operation, probe included
	probe      time.Duration   // after the phase, until a probe succeeded
}

// runPhase runs the load for p.Length with p's fault.
func (r *runner) runPhase(p Phase, n int) phaseResult {
	t := r.t
	st := &phaseStats{classes: map[string]int{}, examples: map[string]string{}}
	start := time.Now()
	end := start.Add(p.Length)
	var wg sync.WaitGroup
	for i := range Workers / 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pair(st, r.seed+uint64(n*100+i), end)
		}()
	}
	var ends []time.Time
	if p.Fault != nil {
		at := func(d time.Duration) {
			if w := time.Until(start.Add(d)); w > 0 {
				time.Sleep(w) // the fault's schedule, not a test's logic
			}
		}
		ends = p.Fault(t, r.b, at)
	}
	wg.Wait()
	// The phase's faults are over: the backend must work again.
	probe := r.probe(p.Name)
	probeEnd := time.Now()

	res := phaseResult{name: p.Name, ops: st.ops, ok: st.ok, classes: st.classes, faults: len(ends), probe: probe}
	sort.Slice(st.successes, func(i, j int) bool { return st.successes[i].end.Before(st.successes[j].end) })
	firstSuccessAfter := func(e time.Time) (time.Duration, bool) {
		for _, s := range st.successes {
			if !s.start.Before(e) {
				return s.end.Sub(e), true
			}
		}
		return 0, false
	}
	for _, e := range ends {
		d, ok := firstSuccessAfter(e)
		if !ok { // not within the phase: the probe's time counts
			d = time.Since(e)
		}
		res.recoveries = append(res.recoveries, d)
	}
	// The outage: the longest time in which no operation succeeded, from
	// the phase's start until the probe's success.
	prev := start
	for _, sp := range st.successes {
		res.outage = max(res.outage, sp.end.Sub(prev))
		if sp.end.After(prev) {
			prev = sp.end
		}
	}
	res.outage = max(res.outage, probeEnd.Sub(prev))
	for _, u := range st.unknown {
		t.Errorf("%s/%s: an error of no known class: %s", r.b.Name, p.Name, u)
	}
	for class, msg := range st.examples {
		t.Logf("%s/%s: e.g. %s: %s", r.b.Name, p.Name, class, msg)
	}
	return res
}

// probe creates tokens until one is acknowledged, for at most
// recoverWithin, and returns how long that took; it fails t otherwise.
func (r *runner) probe(phase string) time.Duration {
	start := time.Now()
	for {
		tok := &models.Token{
			AccessToken: Credential(), RefreshToken: Credential(), ClientID: "faults-client",
			IssuedAt: r.clock(), ExpiresIn: time.Hour, RefreshTokenExpiresIn: 2 * time.Hour,
		}
		ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
		err := r.b.Store.CreateToken(ctx, tok)
		cancel()
		if err == nil {
			r.led.addToken(tok.AccessToken)
			return time.Since(start)
		}
		if c := r.classify(err); strings.HasPrefix(c, "UNKNOWN") {
			r.t.Errorf("%s/%s probe: an error of no known class: %v", r.b.Name, phase, err)
		}
		if time.Since(start) > recoverWithin {
			r.t.Fatalf("%s: operations still fail %v after the %s phase: %v", r.b.Name, recoverWithin, phase, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a server that is coming back
	}
}

// verify checks every acknowledged write through the direct connection:
// each token is there and live, each code is there, used if a consume won
// it; and that no code was won twice. It returns the writes lost and the
// codes won twice.
func (r *runner) verify() (lost, doubles, checked int) {
	t := r.t
	led := r.led
	led.mu.Lock()
	tokens := slices.Clone(led.tokens)
	codes := make(map[string]code, len(led.codes))
	for c, s := range led.codes {
		codes[c] = *s
	}
	led.mu.Unlock()

	type job struct {
		token, code string
		won         bool
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lost++
		if lost <= 10 {
			t.Errorf(r.b.Name+": "+format, args...)
		}
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
				if j.token != "" {
					if _, err := r.b.Direct.GetTokenByAccess(ctx, j.token); err != nil {
						fail("an acknowledged token, read directly: %v", err)
					}
				} else {
					_, err := r.b.Direct.GetAuthorizationCode(ctx, j.code)
					switch {
					case j.won && !errors.Is(err, storage.ErrAlreadyUsed):
						fail("a code whose consume was acknowledged, read directly: %v (want already used)", err)
					case !j.won && err != nil && !errors.Is(err, storage.ErrAlreadyUsed):
						fail("an acknowledged code, read directly: %v", err)
					}
				}
				cancel()
			}
		}()
	}
	for _, tok := range tokens {
		jobs <- job{token: tok}
	}
	for c, s := range codes {
		if s.wins > 1 {
			doubles++
			t.Errorf("%s: a code was consumed %d times", r.b.Name, s.wins)
		}
		jobs <- job{code: c, won: s.wins > 0}
	}
	close(jobs)
	wg.Wait()
	return lost, doubles, len(tokens) + len(codes)
}

// Run runs the phases on b, one after the other, each followed by a probe
// that must succeed within 30 s; then it verifies every acknowledged
// write through b.Direct and prints the figures. clock is the stores'
// clock (a fixed one: nothing expires during the test).
func Run(t *testing.T, b *Backend, clock func() time.Time, phases []Phase) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("%s: seed %d, %d goroutines, %v deadline a call", b.Name, seed, Workers, CallTimeout)
	r := &runner{t: t, b: b, led: &ledger{codes: map[string]*code{}}, clock: clock, seed: seed}
	var results []phaseResult
	for i, p := range phases {
		results = append(results, r.runPhase(p, i))
	}
	if b.OpenDirect != nil {
		b.Direct = b.OpenDirect(t)
	}
	lost, doubles, checked := r.verify()
	lost += r.led.lost
	for _, a := range r.led.anomalies {
		t.Errorf("%s: %s", b.Name, a)
	}

	exchanges, contested := 0, 0
	for _, c := range r.led.codes {
		exchanges++
		if c.attempts == 2 {
			contested++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%s faults", b.Name)
	if b.RestartHow != "" {
		fmt.Fprintf(&out, " (restart: %s)", b.RestartHow)
	}
	out.WriteString(":\n")
	fmt.Fprintf(&out, "  %-13s %6s %6s  %-58s %s\n", "phase", "ops", "ok", "errors by class", "recovery after each fault")
	for _, res := range results {
		fmt.Fprintf(&out, "  %-13s %6d %6d  %-58s %s\n", res.name, res.ops, res.ok, classesString(res.classes), recoveryString(res))
	}
	fmt.Fprintf(&out, "  acknowledged writes checked directly: %d (tokens and codes; %d codes raced by 2 consumers); writes lost: %d; codes consumed twice: %d\n",
		checked, contested, lost, doubles)
	if b.Proxy != nil {
		fmt.Fprintf(&out, "  proxy: %+v", b.Proxy.Stats())
	}
	t.Log(out.String())
	if lost > 0 || doubles > 0 {
		t.Errorf("%s: %d acknowledged writes lost, %d codes consumed twice", b.Name, lost, doubles)
	}
	if results[0].ok == 0 {
		t.Errorf("%s: no operation succeeded in the first phase (%s)", b.Name, results[0].name)
	}
}

func classesString(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func recoveryString(res phaseResult) string {
	if res.faults == 0 {
		return "-"
	}
	rs := slices.Clone(res.recoveries)
	slices.Sort(rs)
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	s := fmt.Sprintf("%d faults: median %s, max %s", res.faults, ms(rs[len(rs)/2]), ms(rs[len(rs)-1]))
	if res.faults == 1 {
		s = fmt.Sprintf("%s after the end", ms(rs[0]))
	}
	return s + fmt.Sprintf("; longest without success %s; probe ok after %s", ms(res.outage), ms(res.probe))
}

// GoroutinesSettle waits until at most base goroutines run, for a few
// seconds, and fails t with their stacks otherwise.
func GoroutinesSettle(t *testing.T, what string, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	n := runtime.NumGoroutine()
	for n > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling goroutines that are ending
		n = runtime.NumGoroutine()
	}
	if n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%s: %d goroutines left after Close (%d before the store was opened):\n%s",
			what, n, base, buf[:runtime.Stack(buf, true)])
		return
	}
	t.Logf("%s: goroutines after Close: %d (%d before the store was opened)", what, n, base)
}
