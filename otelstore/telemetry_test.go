package otelstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthstore/oauthstore/otelstore"
	"github.com/oauthstore/oauthstore/storage"
)

// telemetry is an SDK tracer provider exporting to memory, synchronously,
// and an SDK meter provider read by hand.
type telemetry struct {
	exp    *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t testing.TB) *telemetry {
	exp := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel := &telemetry{
		exp:    exp,
		reader: reader,
		tp:     sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample())),
		mp:     sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	}
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) wrap(s storage.Storage) storage.Storage {
	return otelstore.New(s, otelstore.WithTracerProvider(tel.tp), otelstore.WithMeterProvider(tel.mp))
}

func (tel *telemetry) spans() tracetest.SpanStubs { return tel.exp.GetSpans() }

func (tel *telemetry) metrics(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	return rm
}

func attrsText(b *strings.Builder, kvs []attribute.KeyValue) {
	for _, kv := range kvs {
		fmt.Fprintf(b, " %s=%s", kv.Key, kv.Value.Emit())
	}
}

// spansText is everything the spans carry: names, attributes, status,
// events, links, and their %+v rendering on top.
func spansText(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "span %s status=%s %q", s.Name, s.Status.Code, s.Status.Description)
		attrsText(&b, s.Attributes)
		for _, e := range s.Events {
			fmt.Fprintf(&b, " event %s", e.Name)
			attrsText(&b, e.Attributes)
		}
		for _, l := range s.Links {
			b.WriteString(" link")
			attrsText(&b, l.Attributes)
		}
		fmt.Fprintf(&b, "\n%+v\n", s)
	}
	return b.String()
}

// metricsText is everything the metrics carry: names, descriptions, units,
// every data point's attributes and exemplars, and their %+v rendering.
func metricsText(rm metricdata.ResourceMetrics) string {
	var b strings.Builder
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Fprintf(&b, "metric %s %q %s\n", m.Name, m.Description, m.Unit)
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					attrsText(&b, p.Attributes.ToSlice())
					for _, e := range p.Exemplars {
						attrsText(&b, e.FilteredAttributes)
					}
					b.WriteString("\n")
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					attrsText(&b, p.Attributes.ToSlice())
					for _, e := range p.Exemplars {
						attrsText(&b, e.FilteredAttributes)
					}
					b.WriteString("\n")
				}
			default:
				fmt.Fprintf(&b, "unexpected data %T\n", d)
			}
			fmt.Fprintf(&b, "%+v\n", m.Data)
		}
	}
	return b.String()
}

// find returns the metric called name, or fails.
func find(t testing.TB, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelstore.ScopeName {
			t.Errorf("metric scope %q, want %q", sm.Scope.Name, otelstore.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sum returns the value of a counter with no attributes, 0 if it has no
// point.
func sum(t testing.TB, rm metricdata.ResourceMetrics, name string) int64 {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			d, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !d.IsMonotonic {
				t.Fatalf("metric %s is a %T, want a monotonic int64 sum", name, m.Data)
			}
			var n int64
			for _, p := range d.DataPoints {
				if p.Attributes.Len() != 0 {
					t.Errorf("metric %s has attributes %v", name, p.Attributes.ToSlice())
				}
				n += p.Value
			}
			return n
		}
	}
	return 0
}

// durations returns the histogram's count by method and outcome.
func durations(t testing.TB, rm metricdata.ResourceMetrics) map[[2]string]uint64 {
	t.Helper()
	m := find(t, rm, otelstore.DurationMetric)
	if m.Unit != "s" {
		t.Errorf("%s unit %q, want s", m.Name, m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", m.Name, m.Data)
	}
	out := map[[2]string]uint64{}
	for _, p := range h.DataPoints {
		if p.Attributes.Len() != 2 {
			t.Errorf("%s point has attributes %v, want method and outcome only", m.Name, p.Attributes.ToSlice())
		}
		method, _ := p.Attributes.Value(otelstore.MethodKey)
		outcome, _ := p.Attributes.Value(otelstore.OutcomeKey)
		out[[2]string{method.AsString(), outcome.AsString()}] += p.Count
	}
	return out
}

// attr returns the value of the span attribute k, "" if absent.
func attr(s tracetest.SpanStub, k attribute.Key) string {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value.Emit()
		}
	}
	return ""
}
