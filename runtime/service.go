package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sync"
	"unsafe"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Service binds an implementation to a [ServiceDesc]. Every transport's
// server half serves a Service, so one implementation and one set of server
// interceptors answer over gRPC, HTTP, AMQP and in process alike.
//
// Generated code offers a typed constructor (NewGreeterService) that checks
// at compile time that the implementation satisfies the server interface.
type Service struct {
	desc    *ServiceDesc
	impl    any
	unary   grpc.UnaryServerInterceptor
	stream  grpc.StreamServerInterceptor
	methods map[string]*MethodDesc
	byPath  map[string]*MethodDesc
	// handlers[i] runs Methods[i] through the interceptor chain; built once.
	handlers []grpc.UnaryHandler
	// logger receives recovered panics; nil means slog.Default() at the
	// time of the panic, so a default set after NewService still applies.
	logger       *slog.Logger
	panicDetails bool
}

// ServiceOption configures a Service.
type ServiceOption interface {
	applyToService(*Service)
}

type serviceOptionFunc func(*Service)

func (f serviceOptionFunc) applyToService(s *Service) { f(s) }

// WithServerUnaryInterceptors adds grpc-go unary server interceptors, so the
// interceptors a team already uses with grpc.Server (auth, logging, metrics)
// run on every transport. The first one runs first (outermost).
func WithServerUnaryInterceptors(interceptors ...grpc.UnaryServerInterceptor) ServiceOption {
	return serviceOptionFunc(func(s *Service) {
		for _, i := range interceptors {
			s.unary = chainUnaryServer(s.unary, i)
		}
	})
}

// WithServerStreamInterceptors adds grpc-go stream server interceptors, in the
// same order as WithServerUnaryInterceptors.
func WithServerStreamInterceptors(interceptors ...grpc.StreamServerInterceptor) ServiceOption {
	return serviceOptionFunc(func(s *Service) {
		for _, i := range interceptors {
			s.stream = chainStreamServer(s.stream, i)
		}
	})
}

// WithLogger sends the service's own log records (today: recovered
// panics, with their stacks) to logger instead of [slog.Default].
func WithLogger(logger *slog.Logger) ServiceOption {
	return serviceOptionFunc(func(s *Service) { s.logger = logger })
}

// WithPanicDetails sends a recovered panic's value to the client in the
// Internal error's message. It is for development only: a panic value can
// hold anything the handler had (a password, a query, a user's data), and
// without this option the client is told only that the method failed.
func WithPanicDetails() ServiceOption {
	return serviceOptionFunc(func(s *Service) { s.panicDetails = true })
}

// NewService binds impl to desc. It panics if impl does not implement the
// interface desc.HandlerType points to: that is a programming error, caught
// by the first test that builds the service.
func NewService(desc *ServiceDesc, impl any, opts ...ServiceOption) *Service {
	if desc.HandlerType != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if got := reflect.TypeOf(impl); got == nil || !got.Implements(want) {
			panic(fmt.Sprintf("svcclient: %v does not implement %v for service %s", got, want, desc.Name))
		}
	}
	s := &Service{
		desc:     desc,
		impl:     impl,
		methods:  make(map[string]*MethodDesc, len(desc.Methods)),
		byPath:   make(map[string]*MethodDesc, len(desc.Methods)),
		handlers: make([]grpc.UnaryHandler, len(desc.Methods)),
	}
	for _, o := range opts {
		o.applyToService(s)
	}
	for i := range desc.Methods {
		m := &desc.Methods[i]
		s.methods[m.Name] = m
		s.byPath[m.FullMethod] = m
		if m.Handler != nil {
			s.handlers[i] = func(ctx context.Context, req any) (any, error) {
				return m.Handler(impl, ctx, req.(proto.Message))
			}
		}
	}
	return s
}

// Desc returns the service's description.
func (s *Service) Desc() *ServiceDesc { return s.desc }

// Impl returns the implementation the service was built with.
func (s *Service) Impl() any { return s.impl }

// Method returns the method with the given name ("SayHello"), or nil.
func (s *Service) Method(name string) *MethodDesc { return s.methods[name] }

// MethodByPath returns the method with the given gRPC path
// ("/helloworld.Greeter/SayHello"), or nil.
func (s *Service) MethodByPath(fullMethod string) *MethodDesc { return s.byPath[fullMethod] }

// HandleUnary runs a unary method: the service's interceptors, then the
// implementation. A panic in either becomes an Internal error, so one bad
// request never takes the server down: the panic value and its stack go to
// the service's logger (see [WithLogger]), and the client learns only that
// the method failed (see [WithPanicDetails]). Every error returned carries a
// status.
func (s *Service) HandleUnary(ctx context.Context, m *MethodDesc, req proto.Message) (resp proto.Message, err error) {
	i := s.index(m)
	if i < 0 {
		return nil, status.Errorf(codes.Internal, "svcclient: method %s is not part of service %s", m.FullMethod, s.desc.Name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = s.panicError(ctx, m, r)
			resp = nil
		}
	}()
	handler := s.handlers[i]
	var out any
	if s.unary == nil {
		out, err = handler(ctx, req)
	} else {
		out, err = s.unary(ctx, req, &grpc.UnaryServerInfo{Server: s.impl, FullMethod: m.FullMethod}, handler)
	}
	if err != nil {
		return nil, ToStatusError(err)
	}
	// A handler returning (nil, nil) hands back a typed nil pointer: IsValid
	// is false for it, as for an untyped nil.
	resp, _ = out.(proto.Message)
	if resp == nil || !resp.ProtoReflect().IsValid() {
		return nil, status.Errorf(codes.Internal, "%s returned a nil response and a nil error", m.FullMethod)
	}
	return resp, nil
}

// HandleStream runs a streaming method over stream, with the same interceptor
// and panic handling as HandleUnary.
func (s *Service) HandleStream(m *MethodDesc, stream grpc.ServerStream) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicError(stream.Context(), m, r)
		}
	}()
	handler := func(srv any, ss grpc.ServerStream) error { return m.StreamHandler(srv, ss) }
	if s.stream == nil {
		err = handler(s.impl, stream)
	} else {
		info := &grpc.StreamServerInfo{FullMethod: m.FullMethod, IsClientStream: m.Kind.ClientStreams(), IsServerStream: m.Kind.ServerStreams()}
		err = s.stream(s.impl, stream, info, handler)
	}
	if err != nil {
		return ToStatusError(err)
	}
	return nil
}

// index returns m's position in the service's method list, or -1 if m is
// not one of its methods. Descriptors are elements of desc.Methods, so this
// is pointer arithmetic, not a search: it runs on every unary call of every
// transport.
func (s *Service) index(m *MethodDesc) int {
	methods := s.desc.Methods
	if len(methods) > 0 {
		size := unsafe.Sizeof(methods[0])
		off := uintptr(unsafe.Pointer(m)) - uintptr(unsafe.Pointer(unsafe.SliceData(methods)))
		if off%size == 0 && off/size < uintptr(len(methods)) {
			return int(off / size)
		}
	}
	return -1
}

// panicError logs a recovered panic with its stack and returns the error
// the client gets. By default the message names the method and nothing
// else: a panic value can hold secrets, and it is the server's operators
// who need it. (grpc-go and connect-go do not recover panics by default;
// connect-go's WithRecover lets the server choose what the client sees.)
func (s *Service) panicError(ctx context.Context, m *MethodDesc, r any) error {
	logger := s.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.ErrorContext(ctx, "svcclient: handler panicked",
		slog.String("method", m.FullMethod),
		slog.String("panic", fmt.Sprint(r)),
		slog.String("stack", string(debug.Stack())))
	if s.panicDetails {
		return status.Errorf(codes.Internal, "%s: handler panicked: %v", m.FullMethod, r)
	}
	return status.Errorf(codes.Internal, "%s: internal error", m.FullMethod)
}

func chainUnaryServer(outer, inner grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if outer == nil {
		return inner
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return outer(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return inner(ctx, req, info, handler)
		})
	}
}

func chainStreamServer(outer, inner grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if outer == nil {
		return inner
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return outer(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			return inner(srv, ss, info, handler)
		})
	}
}

// ServerCall carries one call's response header and trailer on the server
// side of a transport other than gRPC. Installed in the handler's context,
// it makes grpc.SetHeader, grpc.SendHeader and grpc.SetTrailer work in
// handlers whatever transport carried the call.
type ServerCall struct {
	method     string
	mu         sync.Mutex
	header     metadata.MD
	trailer    metadata.MD
	headerSent bool
	// sendHeader, if set, writes the header to the wire at once (streaming
	// transports); otherwise the header goes out with the response.
	sendHeader func(metadata.MD) error
}

// NewServerCall returns a ServerCall for m. sendHeader may be nil.
func NewServerCall(m *MethodDesc, sendHeader func(metadata.MD) error) *ServerCall {
	return &ServerCall{method: m.FullMethod, sendHeader: sendHeader}
}

// Context returns ctx carrying c, for the handler.
func (c *ServerCall) Context(ctx context.Context) context.Context {
	return grpc.NewContextWithServerTransportStream(ctx, c)
}

// Method returns the gRPC path of the call.
func (c *ServerCall) Method() string { return c.method }

// SetHeader merges md into the response header.
func (c *ServerCall) SetHeader(md metadata.MD) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.headerSent {
		return status.Error(codes.Internal, "svcclient: SetHeader called after the header was sent")
	}
	c.header = metadata.Join(c.header, md)
	return nil
}

// SendHeader merges md into the response header and sends it.
func (c *ServerCall) SendHeader(md metadata.MD) error {
	c.mu.Lock()
	if c.headerSent {
		c.mu.Unlock()
		return status.Error(codes.Internal, "svcclient: the header was already sent")
	}
	c.header = metadata.Join(c.header, md)
	c.headerSent = true
	h, send := c.header, c.sendHeader
	c.mu.Unlock()
	if send != nil {
		return send(h)
	}
	return nil
}

// SetTrailer merges md into the response trailer.
func (c *ServerCall) SetTrailer(md metadata.MD) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trailer = metadata.Join(c.trailer, md)
	return nil
}

// Header returns the response header and marks it sent: later SetHeader
// calls fail, as they do on grpc-go.
func (c *ServerCall) Header() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headerSent = true
	return c.header
}

// Trailer returns the response trailer.
func (c *ServerCall) Trailer() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trailer
}
