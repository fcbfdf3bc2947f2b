package runtime

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Conn is the client half of a transport. Generated clients hold one and
// call it with the descriptor of the method being invoked; which transport
// sits behind it is decided when the client is built, so calling code never
// changes with it.
//
// Every error a Conn returns carries a gRPC status: status.FromError and
// status.Code work on it. A Conn must be safe for concurrent use.
type Conn interface {
	// Invoke performs a unary call and fills reply with the response.
	Invoke(ctx context.Context, method *MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error
	// NewStream opens a streaming call. The stream's SendMsg and RecvMsg
	// take proto.Message values of the method's request and response types.
	NewStream(ctx context.Context, method *MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error)
}

// UnaryInvoker performs a unary call; it is what an interceptor calls to go on.
type UnaryInvoker func(ctx context.Context, method *MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error

// UnaryClientInterceptor intercepts unary calls on every transport. It may
// change the context (to add metadata or a deadline), inspect the request
// and response, or return without calling invoker.
type UnaryClientInterceptor func(ctx context.Context, method *MethodDesc, req, reply proto.Message, invoker UnaryInvoker, opts ...grpc.CallOption) error

// Streamer opens a streaming call; it is what a stream interceptor calls to
// go on.
type Streamer func(ctx context.Context, method *MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error)

// StreamClientInterceptor intercepts the opening of streaming calls on every
// transport. To see the messages, wrap the returned grpc.ClientStream.
type StreamClientInterceptor func(ctx context.Context, method *MethodDesc, streamer Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error)

// ClientOption configures a generated client.
type ClientOption interface {
	applyToClient(*clientConfig)
}

type clientConfig struct {
	unary  []UnaryClientInterceptor
	stream []StreamClientInterceptor
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyToClient(c *clientConfig) { f(c) }

// WithUnaryInterceptors adds interceptors to unary calls. The first one runs
// first (outermost); options given later add interceptors inside earlier ones.
func WithUnaryInterceptors(interceptors ...UnaryClientInterceptor) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.unary = append(c.unary, interceptors...) })
}

// WithStreamInterceptors adds interceptors to streaming calls, in the same
// order as WithUnaryInterceptors.
func WithStreamInterceptors(interceptors ...StreamClientInterceptor) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.stream = append(c.stream, interceptors...) })
}

// NewClient returns conn wrapped with the interceptors in opts. Generated
// constructors call it; without interceptors it returns conn itself, so an
// unintercepted client costs nothing extra per call.
func NewClient(conn Conn, opts ...ClientOption) Conn {
	var cfg clientConfig
	for _, o := range opts {
		o.applyToClient(&cfg)
	}
	if len(cfg.unary) == 0 && len(cfg.stream) == 0 {
		return conn
	}
	ic := &interceptedConn{next: conn, invoke: conn.Invoke, stream: conn.NewStream}
	for i := len(cfg.unary) - 1; i >= 0; i-- {
		interceptor, next := cfg.unary[i], ic.invoke
		ic.invoke = func(ctx context.Context, m *MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error {
			return interceptor(ctx, m, req, reply, next, opts...)
		}
	}
	for i := len(cfg.stream) - 1; i >= 0; i-- {
		interceptor, next := cfg.stream[i], ic.stream
		ic.stream = func(ctx context.Context, m *MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return interceptor(ctx, m, next, opts...)
		}
	}
	return ic
}

// interceptedConn runs a chain of interceptors, built once, before its
// transport.
type interceptedConn struct {
	next   Conn
	invoke UnaryInvoker
	stream Streamer
}

func (c *interceptedConn) Invoke(ctx context.Context, m *MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error {
	return c.invoke(ctx, m, req, reply, opts...)
}

func (c *interceptedConn) NewStream(ctx context.Context, m *MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.stream(ctx, m, opts...)
}

// Unwrap returns the transport below the interceptors.
func (c *interceptedConn) Unwrap() Conn { return c.next }
