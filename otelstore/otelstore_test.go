package otelstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthstore/oauthstore/conformance"
	"github.com/oauthstore/oauthstore/internal/decorate"
	"github.com/oauthstore/oauthstore/internal/decorate/decoratetest"
	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/otelstore"
	"github.com/oauthstore/oauthstore/slogstore"
	"github.com/oauthstore/oauthstore/storage"
)

// The decorator over a memstore passes the suite, recording with the SDK,
// its RawDump case included: the dump and the upper-case digests reach the
// suite through the decorator.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return newTelemetry(t).wrap(decoratetest.NewMemstore(clock))
	})
}

func TestConformanceReuseInterval(t *testing.T) {
	conformance.RunReuseInterval(t, func(t *testing.T, clock func() time.Time, interval time.Duration) storage.Storage {
		return newTelemetry(t).wrap(decoratetest.NewMemstore(clock, memstore.WithReuseInterval(interval)))
	})
}

func TestConformanceNoop(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock func() time.Time) storage.Storage {
		return otelstore.New(decoratetest.NewMemstore(clock),
			otelstore.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelstore.WithMeterProvider(metricnoop.NewMeterProvider()))
	})
}

func TestOptionalInterfaces(t *testing.T) {
	t.Run("sdk", func(t *testing.T) { decoratetest.CheckOptional(t, newTelemetry(t).wrap) })
	t.Run("noop", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage {
			return otelstore.New(s, otelstore.WithTracerProvider(tracenoop.NewTracerProvider()), otelstore.WithMeterProvider(metricnoop.NewMeterProvider()))
		})
	})
	t.Run("global", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage { return otelstore.New(s) })
	})
	// The two decorators nest either way (slogstore's tests do not
	// import otelstore, so that a user of slogstore alone never has
	// OpenTelemetry in its go.sum).
	t.Run("over slogstore", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage {
			return newTelemetry(t).wrap(slogstore.New(s, slog.New(slog.DiscardHandler)))
		})
	})
	t.Run("under slogstore", func(t *testing.T) {
		decoratetest.CheckOptional(t, func(s storage.Storage) storage.Storage {
			return slogstore.New(newTelemetry(t).wrap(s), slog.New(slog.DiscardHandler))
		})
	})
}

// The workload's credentials, their digests, the secret hashes and the
// grant IDs appear in no span and no metric; its client IDs do, and every
// call is counted once under its method and outcome.
func TestNoLeakAndCounts(t *testing.T) {
	tel := newTelemetry(t)
	clock := decoratetest.NewClock()
	s := tel.wrap(decoratetest.NewMemstore(clock.Now))
	r := decoratetest.Workload(t, s, clock)

	spans := tel.spans()
	rm := tel.metrics(t)
	r.CheckNoLeak(t, "the spans", spansText(spans))
	if leaks := r.Leaks(metricsText(rm)); len(leaks) > 0 {
		t.Errorf("the metrics contain %d secrets of the workload: %s", len(leaks), strings.Join(leaks, "; "))
	}
	for _, id := range r.ClientIDs {
		if strings.Contains(metricsText(rm), id) {
			t.Errorf("a metric has a client ID as a label: unbounded")
		}
	}

	if len(spans) != r.Total() {
		t.Errorf("%d spans for %d calls", len(spans), r.Total())
	}
	bySpan := map[[2]string]uint64{}
	for _, sp := range spans {
		method, outcome := attr(sp, otelstore.MethodKey), attr(sp, otelstore.OutcomeKey)
		bySpan[[2]string{method, outcome}]++
		if sp.Name != "oauthstore."+method {
			t.Errorf("span %q has method %q", sp.Name, method)
		}
		if sp.SpanKind != trace.SpanKindInternal {
			t.Errorf("span %s is of kind %s", sp.Name, sp.SpanKind)
		}
		if sp.InstrumentationScope.Name != otelstore.ScopeName {
			t.Errorf("span %s has scope %q", sp.Name, sp.InstrumentationScope.Name)
		}
		wantCode := codes.Unset
		if outcome != "ok" {
			wantCode = codes.Error
		}
		if sp.Status.Code != wantCode || (outcome != "ok" && sp.Status.Description != outcome) {
			t.Errorf("span %s (%s) has status %s %q", sp.Name, outcome, sp.Status.Code, sp.Status.Description)
		}
		if len(sp.Events) != 0 {
			t.Errorf("span %s has events: %v", sp.Name, sp.Events)
		}
	}
	hist := durations(t, rm)
	for m := range decorate.Method(decorate.NumMethods) {
		for o := range decorate.Outcome(decorate.NumOutcomes) {
			k := [2]string{m.String(), o.String()}
			want := uint64(r.Count(m, o))
			if hist[k] != want {
				t.Errorf("%s points of %s/%s: %d, want %d", otelstore.DurationMetric, m, o, hist[k], want)
			}
			if bySpan[k] != want {
				t.Errorf("spans of %s/%s: %d, want %d", m, o, bySpan[k], want)
			}
		}
	}
	if got, want := sum(t, rm, otelstore.ConsumeConflictsMetric), int64(r.Count(decorate.ConsumeAuthorizationCode, decorate.AlreadyUsed)); got != want || want == 0 {
		t.Errorf("%s = %d, want %d (> 0)", otelstore.ConsumeConflictsMetric, got, want)
	}
	if got, want := sum(t, rm, otelstore.RotationConflictsMetric), int64(r.Count(decorate.RotateToken, decorate.Revoked)); got != want || want == 0 {
		t.Errorf("%s = %d, want %d (> 0)", otelstore.RotationConflictsMetric, got, want)
	}
	if got := sum(t, rm, otelstore.PurgedMetric); got != r.Purged || got == 0 {
		t.Errorf("%s = %d, want %d (> 0)", otelstore.PurgedMetric, got, r.Purged)
	}
	if t.Failed() {
		t.Logf("workload: %s", r)
	}
}

// Every method reports every outcome under its name, with the outcome as
// status, and nothing of the error's text, which here carries the
// credential the call was given.
func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err     error
		outcome string
		errType string
	}{
		{nil, "ok", ""},
		{storage.ErrNotFound, "not_found", "not_found"},
		{storage.ErrAlreadyExists, "already_exists", "already_exists"},
		{storage.ErrExpired, "expired", "expired"},
		{storage.ErrRevoked, "revoked", "revoked"},
		{storage.ErrAlreadyUsed, "already_used", "already_used"},
		{storage.ErrInvalid, "invalid", "invalid"},
		{storage.ErrInvalidSecret, "invalid_secret", "invalid_secret"},
		{context.Canceled, "canceled", "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded", "deadline_exceeded"},
		{errors.ErrUnsupported, "unsupported", "unsupported"},
		{&leakyError{}, "error", "*otelstore_test.leakyError"},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			tel := newTelemetry(t)
			f := &decoratetest.Fake{Purged: 3}
			if c.err != nil {
				f.Err = fmt.Errorf("store failed with %s: %w", decoratetest.FakeCredential, c.err)
			}
			s := tel.wrap(decorate.Only(f, decorate.AllOptional))
			calls := decoratetest.Calls()
			for _, call := range calls {
				if err := call.Do(ctx, s); !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
					t.Fatalf("%s returned %v, want the store's error %v", call.Method, err, f.Err)
				}
			}
			spans := tel.spans()
			if len(spans) != len(calls) {
				t.Fatalf("%d spans for %d calls", len(spans), len(calls))
			}
			for i, sp := range spans {
				m := calls[i].Method
				if sp.Name != m.SpanName() || attr(sp, otelstore.MethodKey) != m.String() {
					t.Errorf("span %d: %s method %q, want %s", i, sp.Name, attr(sp, otelstore.MethodKey), m)
				}
				if got := attr(sp, otelstore.OutcomeKey); got != c.outcome {
					t.Errorf("%s: outcome %q, want %q", m, got, c.outcome)
				}
				if got := attr(sp, otelstore.ErrorTypeKey); got != c.errType {
					t.Errorf("%s: error.type %q, want %q", m, got, c.errType)
				}
				if c.err != nil && (sp.Status.Code != codes.Error || sp.Status.Description != c.outcome) {
					t.Errorf("%s: status %s %q, want Error %q", m, sp.Status.Code, sp.Status.Description, c.outcome)
				}
			}
			rm := tel.metrics(t)
			hist := durations(t, rm)
			for _, call := range calls {
				if n := hist[[2]string{call.Method.String(), c.outcome}]; n != 1 {
					t.Errorf("%s points of %s/%s: %d, want 1", otelstore.DurationMetric, call.Method, c.outcome, n)
				}
			}
			if len(hist) != len(calls) {
				t.Errorf("%d series for %d calls: %v", len(hist), len(calls), hist)
			}
			consume, rotate, purged := sum(t, rm, otelstore.ConsumeConflictsMetric), sum(t, rm, otelstore.RotationConflictsMetric), sum(t, rm, otelstore.PurgedMetric)
			if want := b2i(c.outcome == "already_used"); consume != want {
				t.Errorf("%s = %d, want %d", otelstore.ConsumeConflictsMetric, consume, want)
			}
			if want := b2i(c.outcome == "revoked"); rotate != want {
				t.Errorf("%s = %d, want %d", otelstore.RotationConflictsMetric, rotate, want)
			}
			if want := 3 * b2i(c.err == nil); purged != want {
				t.Errorf("%s = %d, want %d", otelstore.PurgedMetric, purged, want)
			}
			text := spansText(spans) + metricsText(rm)
			for _, v := range []string{decoratetest.FakeCredential, decoratetest.FakeGrantID, "store failed"} {
				if strings.Contains(text, v) {
					t.Errorf("the telemetry contains %q", v)
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

// leakyError is an unexpected error whose text carries a credential.
type leakyError struct{}

func (*leakyError) Error() string { return "driver: bad value " + decoratetest.FakeCredential }

// Spans carry the client ID a call is given or that its record has; none
// for calls by credential that fail, nor for RevokeGrant.
func TestClientIDAttribute(t *testing.T) {
	ctx := context.Background()
	tel := newTelemetry(t)
	s := tel.wrap(decorate.Only(&decoratetest.Fake{}, decorate.AllOptional))
	for _, c := range decoratetest.Calls() {
		if err := c.Do(ctx, s); err != nil {
			t.Fatalf("%s: %v", c.Method, err)
		}
	}
	without := map[string]bool{"DeleteAuthorizationCode": true, "RevokeToken": true, "RevokeGrant": true, "PurgeExpired": true, "ListClients": true, "Stats": true}
	for _, sp := range tel.spans() {
		method := attr(sp, otelstore.MethodKey)
		want := decoratetest.FakeClientID
		if without[method] {
			want = ""
		}
		if got := attr(sp, otelstore.ClientIDKey); got != want {
			t.Errorf("%s: client ID %q, want %q", method, got, want)
		}
		switch method {
		case "PurgeExpired":
			if got := attr(sp, otelstore.PurgedKey); got != "0" {
				t.Errorf("PurgeExpired: purged %q", got)
			}
		case "ListClients":
			if got := attr(sp, otelstore.ClientsKey); got != "1" {
				t.Errorf("ListClients: clients %q", got)
			}
		}
	}
}

// spy records the span in the context it is called with.
type spy struct {
	storage.Storage
	got trace.SpanContext
}

func (s *spy) GetClient(ctx context.Context, id string) (*models.Client, error) {
	s.got = trace.SpanContextFromContext(ctx)
	return s.Storage.GetClient(ctx, id)
}

// A call's span is a child of the caller's, and the inner store runs in
// the call's span.
func TestSpanNesting(t *testing.T) {
	tel := newTelemetry(t)
	inner := &spy{Storage: memstore.New()}
	s := tel.wrap(inner)
	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "parent")
	_, err := s.GetClient(ctx, "nobody")
	parent.End()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient: %v", err)
	}
	spans := tel.spans()
	if len(spans) != 2 || spans[0].Name != "oauthstore.GetClient" {
		t.Fatalf("spans: %v", spans)
	}
	call := spans[0]
	if call.Parent.SpanID() != parent.SpanContext().SpanID() || call.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("the call's span is not a child of the caller's")
	}
	if inner.got.SpanID() != call.SpanContext.SpanID() {
		t.Errorf("the inner store ran in span %s, want the call's %s", inner.got.SpanID(), call.SpanContext.SpanID())
	}
}

func TestNewNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	otelstore.New(nil)
}
