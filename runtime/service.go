package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/svcclient/svcclient/runtime/transport"
)

// ServiceDesc describes a service to every transport: protoc-gen-go's
// descriptor, which holds every fact about the service and its methods, and
// the function that calls each method on an implementation. Generated code
// declares one per service with [NewServiceDesc].
type ServiceDesc struct {
	desc        protoreflect.ServiceDescriptor
	handlerType reflect.Type
	methods     []*transport.MethodDesc
	handlers    []MethodHandler
}

// MethodHandler calls one method on an implementation of a service's server
// interface. Generated code makes them with [UnaryMethod],
// [ServerStreamMethod], [ClientStreamMethod] and [BidiStreamMethod].
type MethodHandler struct {
	kind   transport.StreamKind
	unary  func(fullMethod string) grpc.MethodHandler
	stream grpc.StreamHandler
}

// UnaryMethod returns the handler of a unary method, given as a method
// expression of the server interface: runtime.UnaryMethod(GreeterServer.SayHello).
func UnaryMethod[S, Req, Res any](method func(S, context.Context, *Req) (*Res, error)) MethodHandler {
	return MethodHandler{kind: transport.Unary, unary: func(fullMethod string) grpc.MethodHandler {
		return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(Req)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return method(srv.(S), ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return method(srv.(S), ctx, req.(*Req))
			})
		}
	}}
}

// ServerStreamMethod returns the handler of a server-streaming method.
func ServerStreamMethod[S, Req, Res any](method func(S, *Req, grpc.ServerStreamingServer[Res]) error) MethodHandler {
	return MethodHandler{kind: transport.ServerStream, stream: func(srv any, stream grpc.ServerStream) error {
		in := new(Req)
		if err := stream.RecvMsg(in); err != nil {
			return err
		}
		return method(srv.(S), in, &grpc.GenericServerStream[Req, Res]{ServerStream: stream})
	}}
}

// ClientStreamMethod returns the handler of a client-streaming method.
func ClientStreamMethod[S, Req, Res any](method func(S, grpc.ClientStreamingServer[Req, Res]) error) MethodHandler {
	return MethodHandler{kind: transport.ClientStream, stream: func(srv any, stream grpc.ServerStream) error {
		return method(srv.(S), &grpc.GenericServerStream[Req, Res]{ServerStream: stream})
	}}
}

// BidiStreamMethod returns the handler of a bidi-streaming method.
func BidiStreamMethod[S, Req, Res any](method func(S, grpc.BidiStreamingServer[Req, Res]) error) MethodHandler {
	return MethodHandler{kind: transport.BidiStream, stream: func(srv any, stream grpc.ServerStream) error {
		return method(srv.(S), &grpc.GenericServerStream[Req, Res]{ServerStream: stream})
	}}
}

// NewServiceDesc pairs a service's descriptor with one handler per method,
// in declaration order. handlerType is a nil pointer to the server interface
// ((*GreeterServer)(nil)); an implementation served later must satisfy it.
// A mismatch between the descriptor and the handlers is a bug in generated
// code and panics at init.
func NewServiceDesc(sd protoreflect.ServiceDescriptor, handlerType any, handlers ...MethodHandler) *ServiceDesc {
	if sd.Methods().Len() != len(handlers) {
		panic(fmt.Sprintf("svcclient: service %s has %d methods but %d handlers", sd.FullName(), sd.Methods().Len(), len(handlers)))
	}
	d := &ServiceDesc{desc: sd, handlerType: reflect.TypeOf(handlerType).Elem(), handlers: handlers}
	for i := range handlers {
		m := transport.Describe(sd.Methods().Get(i))
		if m.Kind != handlers[i].kind {
			panic(fmt.Sprintf("svcclient: %s is %s, but its handler is %s", m.FullMethod, m.Kind, handlers[i].kind))
		}
		d.methods = append(d.methods, m)
	}
	return d
}

// Descriptor returns the service's descriptor.
func (d *ServiceDesc) Descriptor() protoreflect.ServiceDescriptor { return d.desc }

// Service is an implementation bound to its service, with the server
// interceptors that run around it. Every transport's server half serves
// Services, so one implementation and one set of interceptors answer over
// gRPC, HTTP, AMQP and in process alike.
//
// Generated code offers a typed constructor (NewGreeterService) that checks
// at compile time that the implementation satisfies the server interface.
type Service struct {
	name     string
	file     string
	handlers []*transport.Handler
	byPath   map[string]*transport.Handler
}

// ServiceOption configures a Service.
type ServiceOption interface {
	applyToService(*transport.HandlerOptions)
}

type serviceOptionFunc func(*transport.HandlerOptions)

func (f serviceOptionFunc) applyToService(o *transport.HandlerOptions) { f(o) }

// WithServerUnaryInterceptors adds grpc-go unary server interceptors, so the
// interceptors a team already uses with grpc.Server (auth, logging, metrics)
// run on every transport. The first one runs first (outermost).
func WithServerUnaryInterceptors(interceptors ...grpc.UnaryServerInterceptor) ServiceOption {
	return serviceOptionFunc(func(o *transport.HandlerOptions) {
		for _, i := range interceptors {
			o.UnaryInterceptor = transport.ChainUnaryServer(o.UnaryInterceptor, i)
		}
	})
}

// WithServerStreamInterceptors adds grpc-go stream server interceptors, in the
// same order as WithServerUnaryInterceptors.
func WithServerStreamInterceptors(interceptors ...grpc.StreamServerInterceptor) ServiceOption {
	return serviceOptionFunc(func(o *transport.HandlerOptions) {
		for _, i := range interceptors {
			o.StreamInterceptor = transport.ChainStreamServer(o.StreamInterceptor, i)
		}
	})
}

// WithLogger sends the service's own log records (today: recovered
// panics, with their stacks) to logger instead of [slog.Default].
func WithLogger(logger *slog.Logger) ServiceOption {
	return serviceOptionFunc(func(o *transport.HandlerOptions) { o.Logger = logger })
}

// WithPanicDetails sends a recovered panic's value to the client in the
// Internal error's message. It is for development only: a panic value can
// hold anything the handler had (a password, a query, a user's data), and
// without this option the client is told only that the method failed.
func WithPanicDetails() ServiceOption {
	return serviceOptionFunc(func(o *transport.HandlerOptions) { o.PanicDetails = true })
}

// NewService binds impl to desc. It panics if impl does not implement the
// server interface: that is a programming error, caught by the first test
// that builds the service.
func NewService(desc *ServiceDesc, impl any, opts ...ServiceOption) *Service {
	if got := reflect.TypeOf(impl); got == nil || !got.Implements(desc.handlerType) {
		panic(fmt.Sprintf("svcclient: %v does not implement %v for service %s", got, desc.handlerType, desc.desc.FullName()))
	}
	var ho transport.HandlerOptions
	for _, o := range opts {
		o.applyToService(&ho)
	}
	s := newService(string(desc.desc.FullName()), desc.desc.ParentFile().Path(), len(desc.methods))
	for i, m := range desc.methods {
		h := desc.handlers[i]
		if h.unary != nil {
			s.add(transport.NewUnaryHandler(m, impl, h.unary(m.FullMethod), ho))
		} else {
			s.add(transport.NewStreamHandler(m, impl, h.stream, ho))
		}
	}
	return s
}

// NewGRPCService binds impl to a service described by protoc-gen-go-grpc
// (pb.Greeter_ServiceDesc), so code generated for grpc-go is served over
// every transport too. The methods' facts come from the global protobuf
// registry, where protoc-gen-go's init registered the service's file.
func NewGRPCService(desc *grpc.ServiceDesc, impl any, opts ...ServiceOption) (*Service, error) {
	if desc.HandlerType != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if got := reflect.TypeOf(impl); got == nil || !got.Implements(want) {
			return nil, fmt.Errorf("svcclient: %v does not implement %v for service %s", got, want, desc.ServiceName)
		}
	}
	var ho transport.HandlerOptions
	for _, o := range opts {
		o.applyToService(&ho)
	}
	s := newService(desc.ServiceName, fmt.Sprint(desc.Metadata), len(desc.Methods)+len(desc.Streams))
	for _, md := range desc.Methods {
		m, err := transport.Lookup("/" + desc.ServiceName + "/" + md.MethodName)
		if err != nil {
			return nil, err
		}
		s.add(transport.NewUnaryHandler(m, impl, md.Handler, ho))
	}
	for _, sd := range desc.Streams {
		m, err := transport.Lookup("/" + desc.ServiceName + "/" + sd.StreamName)
		if err != nil {
			return nil, err
		}
		s.add(transport.NewStreamHandler(m, impl, sd.Handler, ho))
	}
	return s, nil
}

func newService(name, file string, n int) *Service {
	return &Service{name: name, file: file, handlers: make([]*transport.Handler, 0, n), byPath: make(map[string]*transport.Handler, n)}
}

func (s *Service) add(h *transport.Handler) {
	s.handlers = append(s.handlers, h)
	s.byPath[h.Method.FullMethod] = h
}

// Name returns the fully-qualified service name, e.g. "helloworld.Greeter".
func (s *Service) Name() string { return s.name }

// File returns the .proto file that declares the service.
func (s *Service) File() string { return s.file }

// Handlers returns the service's methods, resolved, in declaration order
// (unary methods first for a service from [NewGRPCService]). Transports
// serve them; the slice must not be changed.
func (s *Service) Handlers() []*transport.Handler { return s.handlers }

// Handler returns the method with gRPC path fullMethod, or nil.
func (s *Service) Handler(fullMethod string) *transport.Handler { return s.byPath[fullMethod] }
