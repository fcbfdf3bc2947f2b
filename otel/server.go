package svcotel

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/svcclient/svcclient/runtime/transport"
)

// server is what the server interceptors share.
type server struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
}

func newServer(opts []Option) *server {
	c := newConfig(opts)
	return &server{tracer: newTracer(c), propagator: c.propagator, duration: serverDuration(c)}
}

// UnaryServerInterceptor returns an interceptor that traces and measures
// unary calls served on any transport. Give it to
// runtime.WithServerUnaryInterceptors (or grpc.ChainUnaryInterceptor for a
// grpc.Server). The span continues the trace whose context the call's
// metadata carries.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	s := newServer(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, span, attrs, start := s.start(ctx, info.FullMethod)
		resp, err := handler(ctx, req)
		finish(ctx, span, s.duration, start, attrs, err, serverError)
		return resp, err
	}
}

// StreamServerInterceptor returns an interceptor that traces and measures
// streaming calls served on any transport.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	s := newServer(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, span, attrs, start := s.start(ss.Context(), info.FullMethod)
		err := handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
		finish(ctx, span, s.duration, start, attrs, err, serverError)
		return err
	}
}

// serverStream is a stream whose context carries the call's span.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// start begins a server call's span, as a child of the remote span whose
// context the incoming metadata carries, and returns the metric attributes.
func (s *server) start(ctx context.Context, fullMethod string) (context.Context, trace.Span, []attribute.KeyValue, time.Time) {
	start := time.Now()
	name := spanName(fullMethod)
	carrier := serverTransport(ctx)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, systemName(carrier), semconv.RPCMethod(name))
	attrs = addressAttrs(localAddr(ctx), attrs)
	spanAttrs := make([]attribute.KeyValue, 0, len(attrs)+8)
	spanAttrs = append(spanAttrs, attrs...)
	spanAttrs = append(spanAttrs, TransportKey.String(carrier))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, port, err := net.SplitHostPort(p.Addr.String()); err == nil {
			spanAttrs = append(spanAttrs, semconv.NetworkPeerAddress(host))
			if n, err := strconv.Atoi(port); err == nil {
				spanAttrs = append(spanAttrs, semconv.NetworkPeerPort(n))
			}
		}
	}
	if call := transport.ServerCallFromContext(ctx); call != nil && carrier == transportAMQP {
		m := call.MessageInfo()
		spanAttrs = append(spanAttrs, semconv.MessagingSystemRabbitMQ,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(m.Destination),
			semconv.MessagingRabbitMQDestinationRoutingKey(m.RoutingKey),
			semconv.MessagingMessageConversationID(m.CorrelationID))
	}
	ctx = extract(ctx, s.propagator)
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(spanAttrs...))
	return ctx, span, attrs, start
}

// serverTransport returns the transport that carried a call: the one
// svcclient's transports record on the call, or gRPC for a call grpc.Server
// serves (it installs a stream of its own).
func serverTransport(ctx context.Context) string {
	if call := transport.ServerCallFromContext(ctx); call != nil {
		return call.Transport()
	}
	if grpc.ServerTransportStreamFromContext(ctx) != nil {
		return transportGRPC
	}
	return ""
}

// localAddr returns the address the call came in on: the listener's, which
// grpc.Server puts in the peer and net/http in the request context. AMQP
// calls come from the broker and have none.
func localAddr(ctx context.Context) net.Addr {
	if p, ok := peer.FromContext(ctx); ok && p.LocalAddr != nil {
		return p.LocalAddr
	}
	addr, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	return addr
}
