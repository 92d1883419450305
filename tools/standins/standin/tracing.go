package main

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpEndpointVariables: the standard variables that name where traces go. Without any of them the
// stand-in still creates spans (their ids are the exemplars and log trace ids) but exports none,
// rather than retrying a collector that is not there.
var otlpEndpointVariables = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// setupTracing installs the global tracer provider and W3C trace-context propagation. The
// exporter is OTLP over HTTP (protobuf), configured by the standard OTEL_* variables; the
// resource's service.name is the service unless OTEL_SERVICE_NAME says otherwise, and the
// sampler follows OTEL_TRACES_SAMPLER (default: every trace).
func setupTracing(ctx context.Context, p profile, version string) (*sdktrace.TracerProvider, bool, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", p.name),
			attribute.String("service.version", version),
			attribute.String("service.namespace", "machineavatars"),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, false, fmt.Errorf("tracing resource: %w", err)
	}
	options := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := false
	for _, variable := range otlpEndpointVariables {
		if os.Getenv(variable) != "" {
			exporting = true
		}
	}
	if exporting {
		exporter, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		options = append(options, sdktrace.WithBatcher(exporter))
	}
	provider := sdktrace.NewTracerProvider(options...)
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return provider, exporting, nil
}
