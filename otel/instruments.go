package svcotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Version is the instrumentation version reported with the scope.
const Version = "0.1.0"

// durationBuckets are the boundaries, in seconds, that the conventions
// recommend for rpc.*.call.duration (and otelgrpc uses).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func newTracer(c *config) trace.Tracer {
	return c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version), trace.WithSchemaURL(semconv.SchemaURL))
}

func newMeter(c *config) metric.Meter {
	return c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(semconv.SchemaURL))
}

func clientDuration(c *config) metric.Float64Histogram {
	h, err := rpcconv.NewClientCallDuration(newMeter(c), metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	return h.Inst()
}

func serverDuration(c *config) metric.Float64Histogram {
	h, err := rpcconv.NewServerCallDuration(newMeter(c), metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	return h.Inst()
}

// finish ends a call's span with its status and records its duration.
// attrs are the metric's attributes (the span has them already); isError
// says which codes count as errors on this side of the call.
func finish(ctx context.Context, span trace.Span, duration metric.Float64Histogram, start time.Time, attrs []attribute.KeyValue, err error, isError func(codes.Code) bool) {
	elapsed := time.Since(start)
	st, _ := status.FromError(err)
	code := st.Code()
	n := len(attrs)
	attrs = append(attrs, semconv.RPCResponseStatusCode(statusName(code)))
	if code != codes.OK && isError(code) {
		attrs = append(attrs, semconv.ErrorTypeKey.String(statusName(code)))
		span.SetStatus(otelcodes.Error, st.Message())
	}
	span.SetAttributes(attrs[n:]...)
	span.End()
	if duration.Enabled(ctx) {
		duration.Record(ctx, elapsed.Seconds(), metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
}

// clientError: on the client, every code but OK is an error.
func clientError(c codes.Code) bool { return c != codes.OK }
