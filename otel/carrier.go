package svcotel

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/metadata"
)

// inject returns ctx with the propagator's fields (traceparent,
// tracestate, ...) of the span in ctx added to its outgoing metadata. It
// appends rather than copying the metadata already there, which is what
// metadata.AppendToOutgoingContext is cheap for.
func inject(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	var c outgoingCarrier
	p.Inject(ctx, &c)
	if len(c.kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, c.kv...)
}

// outgoingCarrier collects what a propagator injects.
type outgoingCarrier struct{ kv []string }

func (c *outgoingCarrier) Get(key string) string {
	for i := 0; i+1 < len(c.kv); i += 2 {
		if c.kv[i] == key {
			return c.kv[i+1]
		}
	}
	return ""
}

func (c *outgoingCarrier) Set(key, value string) { c.kv = append(c.kv, key, value) }

func (c *outgoingCarrier) Keys() []string {
	keys := make([]string, 0, len(c.kv)/2)
	for i := 0; i < len(c.kv); i += 2 {
		keys = append(keys, c.kv[i])
	}
	return keys
}

// extract returns ctx with the remote span context the propagator finds in
// its incoming metadata.
func extract(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	return p.Extract(ctx, incomingCarrier{ctx})
}

// incomingCarrier reads a context's incoming metadata key by key: the
// propagator asks for a few keys, and metadata.ValueFromIncomingContext
// finds each without copying the whole metadata as FromIncomingContext does.
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set does nothing: the incoming metadata is the caller's.
func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}
