package svcotel

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/svcclient/svcclient/runtime"
)

// client is what the client interceptors share.
type client struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
}

func newClient(opts []Option) *client {
	c := newConfig(opts)
	return &client{tracer: newTracer(c), propagator: c.propagator, duration: clientDuration(c)}
}

// UnaryClientInterceptor returns an interceptor that traces and measures
// unary calls. Give it to runtime.WithUnaryInterceptors, or to
// grpc.WithChainUnaryInterceptor for a *grpc.ClientConn.
func UnaryClientInterceptor(opts ...Option) grpc.UnaryClientInterceptor {
	c := newClient(opts)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		call := c.start(ctx, method, cc)
		err := invoker(call.ctx, method, req, reply, cc, call.options(opts)...)
		call.end(err)
		return err
	}
}

// StreamClientInterceptor returns an interceptor that traces and measures
// streaming calls. The span ends when the call does (grpc.OnFinish): once
// RecvMsg has returned the status, or the call's context is done.
func StreamClientInterceptor(opts ...Option) grpc.StreamClientInterceptor {
	c := newClient(opts)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		call := c.start(ctx, method, cc)
		once := new(sync.Once)
		end := func(err error) { once.Do(func() { call.end(err) }) }
		s, err := streamer(call.ctx, desc, cc, method, append(call.options(opts), grpc.OnFinish(end))...)
		if err != nil {
			end(err)
			return nil, err
		}
		return s, nil
	}
}

// clientCall is one call in flight.
type clientCall struct {
	c      *client
	ctx    context.Context
	span   trace.Span
	start  time.Time
	method string
	// transport and peer are filled by the transport, through
	// runtime.AnsweredBy and grpc.Peer, by the time the call ends.
	transport string
	peer      peer.Peer
}

func (c *client) start(ctx context.Context, method string, cc *grpc.ClientConn) *clientCall {
	call := &clientCall{c: c, start: time.Now(), method: method}
	if cc != nil {
		// A *grpc.ClientConn's own interceptor chain: grpc-go does not
		// report runtime.AnsweredBy.
		call.transport = transportGRPC
	}
	ctx, call.span = c.tracer.Start(ctx, spanName(method),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.RPCMethod(spanName(method))))
	call.ctx = inject(ctx, c.propagator)
	return call
}

// options returns the caller's options and the two that tell the
// interceptor which transport carried the call and to whom.
func (call *clientCall) options(opts []grpc.CallOption) []grpc.CallOption {
	return append(opts[:len(opts):len(opts)], runtime.AnsweredBy(&call.transport), grpc.Peer(&call.peer))
}

func (call *clientCall) end(err error) {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, systemName(call.transport), semconv.RPCMethod(spanName(call.method)))
	attrs = addressAttrs(call.peer.Addr, attrs)
	if call.span.IsRecording() {
		call.span.SetAttributes(attrs...)
		call.span.SetAttributes(TransportKey.String(call.transport))
		if call.transport == transportAMQP {
			// The request goes to the service's queue through the default
			// exchange unless the client routes it elsewhere
			// (amqptransport.WithRouting), which this side cannot see.
			queue := serviceName(call.method)
			call.span.SetAttributes(semconv.MessagingSystemRabbitMQ,
				semconv.MessagingOperationTypeSend,
				semconv.MessagingDestinationName(queue),
				semconv.MessagingRabbitMQDestinationRoutingKey(queue))
		}
	}
	finish(call.ctx, call.span, call.c.duration, call.start, attrs, err, clientError)
}
