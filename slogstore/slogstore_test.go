package slogstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/internal/decorate/decoratetest"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/slogstore"
	"github.com/oauthstore/oauthstore/storage"
)

// capture is a handler that keeps every record it takes, and renders each
// with slog's JSON and text handlers too.
type capture struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
	out   bytes.Buffer
	json  slog.Handler
	texth slog.Handler
}

func newCapture(level slog.Level) *capture {
	c := &capture{level: level}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug - 10}
	c.json = slog.NewJSONHandler(&c.out, opts)
	c.texth = slog.NewTextHandler(&c.out, opts)
	return c
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }

func (c *capture) Handle(ctx context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	if err := c.json.Handle(ctx, r); err != nil {
		return err
	}
	return c.texth.Handle(ctx, r)
}

func (c *capture) WithAttrs([]slog.Attr) slog.Handler { panic("not used") }
func (c *capture) WithGroup(string) slog.Handler      { panic("not used") }

func (c *capture) records() []slog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]slog.Record(nil), c.recs...)
}

// text is every line in JSON and text, and every attribute as slog
// prints it.
func (c *capture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	b.Write(c.out.Bytes())
	for _, r := range c.recs {
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s", a)
			return true
		})
		b.WriteString("\n")
	}
	return b.String()
}

// attrs returns a record's attributes as strings.
func attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	return m
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return slogstore.New(decoratetest.NewMemstore(clock), slog.New(newCapture(slog.LevelDebug)))
	})
}

func TestConformanceReuseInterval(t *testing.T) {
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		return slogstore.New(decoratetest.NewMemstore(clock, memstore.WithReuseInterval(interval)), slog.New(newCapture(slog.LevelDebug)))
	})
}

func TestConformanceDiscard(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return slogstore.New(decoratetest.NewMemstore(clock), slog.New(slog.DiscardHandler))
	})
}

func TestOptionalInterfaces(t *testing.T) {
	t.Run("debug", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage {
			return slogstore.New(s, slog.New(newCapture(slog.LevelDebug)))
		})
	})
	t.Run("default logger", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage { return slogstore.New(s, nil) })
	})
}

// The workload's credentials, their digests, the secret hashes and the
// grant IDs appear in no line; its client IDs do, and each call is one
// line with its method and outcome, at the outcome's level.
func TestNoLeakAndLines(t *testing.T) {
	h := newCapture(slog.LevelDebug)
	clock := decoratetest.NewClock()
	s := slogstore.New(decoratetest.NewMemstore(clock.Now), slog.New(h))
	r := decoratetest.Workload(t, s, clock)
	r.CheckNoLeak(t, "the log lines", h.text())

	recs := h.records()
	if len(recs) != r.Total() {
		t.Errorf("%d lines for %d calls", len(recs), r.Total())
	}
	type key struct {
		m, o string
	}
	lines := map[key]int{}
	var purged int64
	for _, rec := range recs {
		a := attrs(rec)
		k := key{a[slogstore.MethodKey], a[slogstore.OutcomeKey]}
		lines[k]++
		if rec.Message != "oauthstore."+k.m {
			t.Errorf("line %q has method %q", rec.Message, k.m)
		}
		if _, ok := a[slogstore.DurationKey]; !ok {
			t.Errorf("line %q has no duration", rec.Message)
		}
		if k.m == "PurgeExpired" {
			var n int64
			fmt.Sscan(a[slogstore.PurgedKey], &n)
			purged += n
		}
		want := slog.LevelDebug
		switch k.o {
		case "ok":
		case "error", "deadline_exceeded", "unsupported":
			want = slog.LevelError
		default:
			want = slog.LevelInfo
			if (k.m == "ConsumeAuthorizationCode" && k.o == "already_used") || (k.m == "RotateToken" && k.o == "revoked") {
				want = slog.LevelWarn
			}
		}
		if rec.Level != want {
			t.Errorf("%s/%s logged at %s, want %s", k.m, k.o, rec.Level, want)
		}
	}
	for m := range decorate.Method(decorate.NumMethods) {
		for o := range decorate.Outcome(decorate.NumOutcomes) {
			if got, want := lines[key{m.String(), o.String()}], r.Count(m, o); got != want {
				t.Errorf("lines of %s/%s: %d, want %d", m, o, got, want)
			}
		}
	}
	if purged != r.Purged || purged == 0 {
		t.Errorf("purged %d, want %d (> 0)", purged, r.Purged)
	}
	if t.Failed() {
		t.Logf("workload: %s", r)
	}
}

// leakyError is an unexpected error whose text carries a credential.
type leakyError struct{}

func (*leakyError) Error() string { return "driver: bad value " + decoratetest.FakeCredential }

// Every method logs every outcome under its name, at its level, with the
// client ID it has, and nothing of the error's text, which here carries
// the credential the call was given.
func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	const (
		success  = slog.Level(-8)
		expected = slog.Level(1)
		conflict = slog.Level(5)
		failure  = slog.Level(9)
	)
	without := map[string]bool{"DeleteAuthorizationCode": true, "RevokeToken": true, "RevokeGrant": true, "PurgeExpired": true, "ListClients": true, "Stats": true}
	for _, c := range []struct {
		err     error
		outcome string
		level   slog.Level
	}{
		{nil, "ok", success},
		{storage.ErrNotFound, "not_found", expected},
		{storage.ErrAlreadyExists, "already_exists", expected},
		{storage.ErrExpired, "expired", expected},
		{storage.ErrRevoked, "revoked", expected},
		{storage.ErrAlreadyUsed, "already_used", expected},
		{storage.ErrInvalid, "invalid", expected},
		{storage.ErrInvalidSecret, "invalid_secret", expected},
		{context.Canceled, "canceled", expected},
		{context.DeadlineExceeded, "deadline_exceeded", failure},
		{errors.ErrUnsupported, "unsupported", failure},
		{&leakyError{}, "error", failure},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			h := newCapture(slog.Level(-100))
			f := &decoratetest.Fake{Purged: 3}
			if c.err != nil {
				f.Err = fmt.Errorf("store failed with %s: %w", decoratetest.FakeCredential, c.err)
			}
			s := slogstore.New(decorate.Only(f, decorate.AllOptional), slog.New(h),
				slogstore.WithSuccessLevel(success), slogstore.WithExpectedLevel(expected),
				slogstore.WithConflictLevel(conflict), slogstore.WithErrorLevel(failure))
			calls := decoratetest.Calls()
			for _, call := range calls {
				if err := call.Do(ctx, s); !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
					t.Fatalf("%s returned %v, want the store's error %v", call.Method, err, f.Err)
				}
			}
			recs := h.records()
			if len(recs) != len(calls) {
				t.Fatalf("%d lines for %d calls", len(recs), len(calls))
			}
			for i, rec := range recs {
				m := calls[i].Method
				a := attrs(rec)
				if rec.Message != m.SpanName() || a[slogstore.MethodKey] != m.String() {
					t.Errorf("line %d: %q method %q, want %s", i, rec.Message, a[slogstore.MethodKey], m)
				}
				if a[slogstore.OutcomeKey] != c.outcome {
					t.Errorf("%s: outcome %q, want %q", m, a[slogstore.OutcomeKey], c.outcome)
				}
				want := c.level
				if (m == decorate.ConsumeAuthorizationCode && c.outcome == "already_used") || (m == decorate.RotateToken && c.outcome == "revoked") {
					want = conflict
				}
				if rec.Level != want {
					t.Errorf("%s/%s at level %s, want %s", m, c.outcome, rec.Level, want)
				}
				wantType := ""
				if c.outcome == "error" {
					wantType = "*slogstore_test.leakyError"
				}
				if a[slogstore.ErrorTypeKey] != wantType {
					t.Errorf("%s: error type %q, want %q", m, a[slogstore.ErrorTypeKey], wantType)
				}
				// The fake returns records of FakeClientID only on success.
				wantID := decoratetest.FakeClientID
				switch m {
				case decorate.GetAuthorizationCode, decorate.ConsumeAuthorizationCode, decorate.GetTokenByAccess, decorate.GetTokenByRefresh:
					if c.err != nil {
						wantID = ""
					}
				}
				if without[m.String()] {
					wantID = ""
				}
				if a[slogstore.ClientIDKey] != wantID {
					t.Errorf("%s: client ID %q, want %q", m, a[slogstore.ClientIDKey], wantID)
				}
				switch m {
				case decorate.PurgeExpired:
					if want := fmt.Sprint(3 * b2i(c.err == nil)); a[slogstore.PurgedKey] != want {
						t.Errorf("PurgeExpired: purged %q, want %s", a[slogstore.PurgedKey], want)
					}
				case decorate.ListClients:
					if _, ok := a[slogstore.ClientsKey]; ok != (c.err == nil) {
						t.Errorf("ListClients: clients %q", a[slogstore.ClientsKey])
					}
				}
			}
			text := h.text()
			for _, v := range []string{decoratetest.FakeCredential, decoratetest.FakeGrantID, "store failed"} {
				if strings.Contains(text, v) {
					t.Errorf("the lines contain %q", v)
				}
			}
		})
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Lines below the handler's level are not written: a handler at Info sees
// no success.
func TestLevelFilter(t *testing.T) {
	ctx := context.Background()
	h := newCapture(slog.LevelInfo)
	s := slogstore.New(memstore.New(), slog.New(h))
	if _, err := s.GetClient(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].Message != "oauthstore.GetClient" || recs[0].Level != slog.LevelInfo {
		t.Fatalf("lines: %v", recs)
	}
}

func TestNewNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	slogstore.New(nil, nil)
}

// asked records the levels a logger is asked about, and takes none.
type asked struct {
	mu     sync.Mutex
	levels []slog.Level
}

func (a *asked) Enabled(_ context.Context, l slog.Level) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.levels = append(a.levels, l)
	return false
}

func (a *asked) Handle(context.Context, slog.Record) error { panic("Handle of a disabled handler") }
func (a *asked) WithAttrs([]slog.Attr) slog.Handler        { panic("not used") }
func (a *asked) WithGroup(string) slog.Handler             { panic("not used") }

// A logger that does not take the highest level a line may have is asked
// once per call, about that level, and nothing more is done.
func TestDisabledLogger(t *testing.T) {
	ctx := context.Background()
	h := &asked{}
	s := slogstore.New(memstore.New(), slog.New(h), slogstore.WithConflictLevel(slog.Level(12)))
	_, _ = s.GetClient(ctx, "nobody")
	_, _ = s.ConsumeAuthorizationCode(ctx, "code")
	_, _ = s.PurgeExpired(ctx)
	if want := []slog.Level{12, 12, 12}; fmt.Sprint(h.levels) != fmt.Sprint(want) {
		t.Errorf("levels asked: %v, want %v", h.levels, want)
	}
}
