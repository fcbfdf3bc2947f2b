// Package grpctransport carries svcclient calls over gRPC with grpc-go.
//
// [NewConn] turns any grpc.ClientConnInterface (a *grpc.ClientConn, or
// anything that wraps one) into a [runtime.Conn] for generated clients. Calls
// go straight to grpc-go: call options such as grpc.Header, grpc.Trailer and
// grpc.WaitForReady keep their meaning, and errors are grpc-go's own.
//
// [Register] serves a [runtime.Service] on a grpc.Server, without
// protoc-gen-go-grpc: the service's own interceptors run inside the server's.
package grpctransport

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
)

// Name is the transport's name, as reported by runtime.AnsweredBy.
const Name = "grpc"

// NewConn returns a runtime.Conn that calls over cc.
func NewConn(cc grpc.ClientConnInterface) runtime.Conn {
	return conn{cc: cc}
}

type conn struct {
	cc grpc.ClientConnInterface
}

// streamDescs are the grpc.StreamDesc values grpc-go's client needs, one per
// kind; the client reads only the two flags, so they are shared by all methods.
var streamDescs = [...]grpc.StreamDesc{
	runtime.Unary:        {},
	runtime.ServerStream: {ServerStreams: true},
	runtime.ClientStream: {ClientStreams: true},
	runtime.BidiStream:   {ServerStreams: true, ClientStreams: true},
}

// staticMethod is grpc.StaticMethod alone, for calls with no options of
// their own: it tells stats handlers (OpenTelemetry, Prometheus) that the
// method name is a generated constant, safe to use as a metric label, as
// protoc-gen-go-grpc's clients say it. grpc-go only reads the slice.
var staticMethod = []grpc.CallOption{grpc.StaticMethod()}

// withStaticMethod adds grpc.StaticMethod to opts, allocating only when
// the caller passed options.
func withStaticMethod(opts []grpc.CallOption) []grpc.CallOption {
	if len(opts) == 0 {
		return staticMethod
	}
	return append(opts[:len(opts):len(opts)], grpc.StaticMethod())
}

func (c conn) Invoke(ctx context.Context, m *runtime.MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error {
	err := c.cc.Invoke(ctx, m.FullMethod, req, reply, withStaticMethod(opts)...)
	runtime.SetAnsweredBy(opts, Name)
	return markNotSent(err, opts)
}

func (c conn) NewStream(ctx context.Context, m *runtime.MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := c.cc.NewStream(ctx, &streamDescs[m.Kind], m.FullMethod, withStaticMethod(opts)...)
	runtime.SetAnsweredBy(opts, Name)
	return s, markNotSent(err, opts)
}

// markNotSent marks err with runtime.NotSent when grpc-go provably never
// sent the request. grpc-go fills a grpc.Peer call option only once the
// call has a stream on a connection (the point from which request bytes
// can be written), so a failed call whose Peer option is still empty never
// left the client: no connection was ready (refused, unresolvable, in
// backoff) or the call was refused locally. The fallback connection passes
// a fresh Peer option to every attempt to learn this; without one, errors
// are left as they are.
func markNotSent(err error, opts []grpc.CallOption) error {
	if err == nil {
		return nil
	}
	for _, o := range opts {
		if p, ok := o.(grpc.PeerCallOption); ok && p.PeerAddr != nil && p.PeerAddr.Addr == nil {
			return runtime.NotSent(err)
		}
	}
	return err
}

// Register serves svc on r, usually a *grpc.Server. The grpc.Server's own
// interceptors run first, then the service's, then the implementation; a
// panicking implementation yields an Internal status instead of crashing
// the server.
func Register(r grpc.ServiceRegistrar, svc *runtime.Service) {
	r.RegisterService(ServiceDesc(svc), svc.Impl())
}

// ServiceDesc returns the grpc.ServiceDesc that serves svc, for code that
// registers services itself.
func ServiceDesc(svc *runtime.Service) *grpc.ServiceDesc {
	d := svc.Desc()
	gd := &grpc.ServiceDesc{
		ServiceName: d.Name,
		HandlerType: d.HandlerType,
		Metadata:    d.File,
	}
	for i := range d.Methods {
		m := &d.Methods[i]
		if m.Kind == runtime.Unary {
			gd.Methods = append(gd.Methods, grpc.MethodDesc{
				MethodName: m.Name,
				Handler:    unaryHandler(svc, m),
			})
			continue
		}
		gd.Streams = append(gd.Streams, grpc.StreamDesc{
			StreamName:    m.Name,
			ServerStreams: m.Kind.ServerStreams(),
			ClientStreams: m.Kind.ClientStreams(),
			Handler: func(_ any, stream grpc.ServerStream) error {
				return svc.HandleStream(m, stream)
			},
		})
	}
	return gd
}

func unaryHandler(svc *runtime.Service, m *runtime.MethodDesc) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := m.NewRequest()
		if err := dec(req); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return svc.HandleUnary(ctx, m, req)
		}
		info := &grpc.UnaryServerInfo{Server: svc.Impl(), FullMethod: m.FullMethod}
		return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return svc.HandleUnary(ctx, m, req.(proto.Message))
		})
	}
}
