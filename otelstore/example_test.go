package otelstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/otelstore"
	"github.com/oauthstore/oauthstore/storage"
)

// The spans of three calls, exported to memory: the credentials are in
// none of them.
func Example() {
	ctx := context.Background()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	store := otelstore.New(memstore.New(),
		otelstore.WithTracerProvider(tp),
		otelstore.WithMeterProvider(metricnoop.NewMeterProvider()))

	err := store.CreateToken(ctx, &models.Token{
		AccessToken: "access-3f9a1c",
		ClientID:    "web-app",
		IssuedAt:    time.Now(),
		ExpiresIn:   time.Hour,
	})
	if err != nil {
		panic(err)
	}
	_, _ = store.GetTokenByAccess(ctx, "access-3f9a1c")
	_, err = store.GetTokenByAccess(ctx, "access-unknown")
	fmt.Println(errors.Is(err, storage.ErrNotFound))

	for _, s := range exporter.GetSpans() {
		fmt.Print(s.Name, " [", s.Status.Code, "]")
		for _, kv := range s.Attributes {
			fmt.Printf(" %s=%s", kv.Key, kv.Value.Emit())
		}
		fmt.Println()
	}
	// Output:
	// true
	// oauthstore.CreateToken [Unset] oauthstore.method=CreateToken oauthstore.client_id=web-app oauthstore.outcome=ok
	// oauthstore.GetTokenByAccess [Unset] oauthstore.method=GetTokenByAccess oauthstore.client_id=web-app oauthstore.outcome=ok
	// oauthstore.GetTokenByAccess [Error] oauthstore.method=GetTokenByAccess oauthstore.outcome=not_found error.type=not_found
}

// A replayed authorization code counts as a consume conflict.
func ExampleWithMeterProvider() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	store := otelstore.New(memstore.New(),
		otelstore.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelstore.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))

	err := store.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code:        "code-5d1e",
		ClientID:    "web-app",
		RedirectURI: "https://app.example/callback",
		AuthTime:    time.Now(),
		ExpiresIn:   time.Minute,
	})
	if err != nil {
		panic(err)
	}
	_, _ = store.ConsumeAuthorizationCode(ctx, "code-5d1e")
	_, _ = store.ConsumeAuthorizationCode(ctx, "code-5d1e") // replayed

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			fmt.Println(m.Name, d.DataPoints[0].Value)
		case metricdata.Histogram[float64]:
			fmt.Println(m.Name, len(d.DataPoints), "series")
		}
	}
	// Output:
	// oauthstore.operation.duration 3 series
	// oauthstore.code.consume_conflicts 1
}
