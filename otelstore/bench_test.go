package otelstore_test

import (
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthstore/oauthstore/internal/decorate/decoratetest"
	"github.com/oauthstore/oauthstore/otelstore"
	"github.com/oauthstore/oauthstore/storage"
)

// variants: the bare store; the decorator with no-op providers; and, for
// scale, with the SDK sampling every span (no exporter) and aggregating
// the metrics.
func variants(b *testing.B) []decoratetest.Variant {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return []decoratetest.Variant{
		decoratetest.Bare,
		{Name: "otel-noop", Wrap: func(s storage.Storage) storage.Storage {
			return otelstore.New(s, otelstore.WithTracerProvider(tracenoop.NewTracerProvider()), otelstore.WithMeterProvider(metricnoop.NewMeterProvider()))
		}},
		{Name: "otel-sdk", Wrap: func(s storage.Storage) storage.Storage {
			return otelstore.New(s, otelstore.WithTracerProvider(tp), otelstore.WithMeterProvider(mp))
		}},
	}
}

func BenchmarkGetTokenByAccess(b *testing.B) {
	decoratetest.BenchGetTokenByAccess(b, variants(b)...)
}

func BenchmarkCreateToken(b *testing.B) {
	decoratetest.BenchCreateToken(b, variants(b)...)
}
