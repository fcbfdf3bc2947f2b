package svcotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics this
// package records.
const ScopeName = "github.com/svcclient/svcclient/otel"

// Option configures the interceptors.
type Option interface {
	apply(*config)
}

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets where spans go. The default is the global
// provider (otel.GetTracerProvider) at the time the interceptor is made.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets where measurements go. The default is the global
// provider (otel.GetMeterProvider) at the time the interceptor is made.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithPropagator sets how trace context travels in metadata. The default
// is the global propagator (otel.GetTextMapPropagator), which propagates
// nothing until the program sets one, as with otelgrpc: programs usually
// call otel.SetTextMapPropagator(propagation.TraceContext{}) once.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagator = p })
}

func newConfig(opts []Option) *config {
	c := &config{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		propagator:     otel.GetTextMapPropagator(),
	}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}
