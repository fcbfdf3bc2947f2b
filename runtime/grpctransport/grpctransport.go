// Package grpctransport carries svcclient calls over gRPC with grpc-go.
//
// A *grpc.ClientConn already is a grpc.ClientConnInterface, so generated
// clients can call over it directly. [NewConn] adds what the other
// transports do: it reports itself to runtime.AnsweredBy and marks errors
// of calls that never left the client with runtime.ErrNotSent, which is
// what lets runtime.NewFallbackConn move on safely. Call options keep
// grpc-go's meaning (grpc-go honours all of them), and errors are grpc-go's
// own.
//
// [Register] serves a runtime.Service on a grpc.Server, without
// protoc-gen-go-grpc: the server's interceptors run outside the service's.
package grpctransport

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// Name is the transport's name, as reported by runtime.AnsweredBy.
const Name = "grpc"

// NewConn returns a connection that calls over cc.
func NewConn(cc grpc.ClientConnInterface) grpc.ClientConnInterface {
	return conn{cc: cc}
}

type conn struct {
	cc grpc.ClientConnInterface
}

// callOptions returns the options for one call: the caller's, then
// grpc.StaticMethod (which tells stats handlers such as OpenTelemetry's that
// the method name is a generated constant, safe as a metric label, as
// protoc-gen-go-grpc's clients say it), then a grpc.Peer writing to p.
// grpc-go fills every grpc.Peer option given, so the caller's own still
// works.
func callOptions(dst, opts []grpc.CallOption, p *peer.Peer) []grpc.CallOption {
	return append(append(dst, opts...), grpc.StaticMethod(), grpc.Peer(p))
}

// unaryCall is one unary call's options and the Peer they fill. It is
// pooled, because grpc-go is done with a unary call's options, and has
// written its Peer, when Invoke returns. The pool is what keeps this layer
// free: without it a call allocates the options and the Peer, two
// allocations more than protoc-gen-go-grpc's client makes (BenchmarkGRPCUnary
// in bench/: 151 against 149 at 100 B; with the pool 149 against 149).
// Streams use their options for their whole life, so they allocate.
type unaryCall struct {
	opts []grpc.CallOption
	peer peer.Peer
}

var unaryCalls = sync.Pool{New: func() any { return &unaryCall{opts: make([]grpc.CallOption, 0, 8)} }}

func (c conn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	u := unaryCalls.Get().(*unaryCall)
	u.opts = callOptions(u.opts[:0], opts, &u.peer)
	err := c.cc.Invoke(ctx, method, req, reply, u.opts...)
	sent := u.peer.Addr != nil
	clear(u.opts) // the caller's options must not outlive the call in the pool
	u.opts, u.peer = u.opts[:0], peer.Peer{}
	unaryCalls.Put(u)
	transport.SetAnsweredBy(opts, Name)
	return markNotSent(err, sent)
}

func (c conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	p := new(peer.Peer)
	s, err := c.cc.NewStream(ctx, desc, method, callOptions(make([]grpc.CallOption, 0, len(opts)+2), opts, p)...)
	transport.SetAnsweredBy(opts, Name)
	return s, markNotSent(err, p.Addr != nil)
}

// markNotSent marks err with transport.NotSent when grpc-go provably never
// sent the request. grpc-go fills a grpc.Peer call option once the call has
// a stream on a connection, the point from which request bytes can be
// written; a failed call whose Peer is still empty never left the client:
// no connection was ready (refused, unresolvable, in backoff) or the call
// was refused locally. A stream that failed after opening reports its error
// from RecvMsg, where it may have been sent, and is not marked.
func markNotSent(err error, sent bool) error {
	if err != nil && !sent {
		return transport.NotSent(err)
	}
	return err
}

// Register serves svc on r, usually a *grpc.Server. The grpc.Server's own
// interceptors run first, then the service's, then the implementation; a
// panicking implementation yields an Internal status instead of crashing
// the server.
func Register(r grpc.ServiceRegistrar, svc *runtime.Service) {
	r.RegisterService(ServiceDesc(svc), nil)
}

// ServiceDesc returns the grpc.ServiceDesc that serves svc, for code that
// registers services itself. Its handlers ignore the implementation
// grpc.Server hands them: svc already holds it.
func ServiceDesc(svc *runtime.Service) *grpc.ServiceDesc {
	gd := &grpc.ServiceDesc{ServiceName: svc.Name(), Metadata: svc.File()}
	for _, h := range svc.Handlers() {
		m := h.Method
		name := string(m.Desc.Name())
		if m.Kind == transport.Unary {
			gd.Methods = append(gd.Methods, grpc.MethodDesc{
				MethodName: name,
				Handler: func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
					return h.UnaryWithInterceptor(ctx, dec, interceptor)
				},
			})
			continue
		}
		gd.Streams = append(gd.Streams, grpc.StreamDesc{
			StreamName:    name,
			ServerStreams: m.Kind.ServerStreams(),
			ClientStreams: m.Kind.ClientStreams(),
			Handler: func(_ any, stream grpc.ServerStream) error {
				return h.Stream(stream)
			},
		})
	}
	return gd
}
