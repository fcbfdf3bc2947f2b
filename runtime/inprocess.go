package runtime

import (
	"context"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime/transport"
)

// NewInProcessConn returns a connection that calls the services'
// implementations directly, with the semantics of a network transport and
// none of its cost: requests and responses are copied (so neither side sees
// the other mutate a message), outgoing metadata arrives as incoming
// metadata, grpc.SetHeader and grpc.SetTrailer reach grpc.Header and
// grpc.Trailer, the server's interceptors run, deadlines and cancellation
// end the call with DeadlineExceeded and Canceled whatever the handler does,
// and every error carries a status. It is meant for users' unit tests.
//
// Of grpc-go's call options it honours every grpc.Header, grpc.Trailer,
// grpc.Peer (whose address reads "inprocess") and grpc.OnFinish, and
// AnsweredBy; size limits and options for the network (compression,
// credentials, WaitForReady) have nothing to act on and are ignored.
func NewInProcessConn(services ...*Service) grpc.ClientConnInterface {
	c := &inProcessConn{handlers: make(map[string]*transport.Handler)}
	for _, s := range services {
		for _, h := range s.Handlers() {
			c.handlers[h.Method.FullMethod] = h
		}
	}
	return c
}

type inProcessConn struct {
	handlers map[string]*transport.Handler
}

const inProcessTransport = "inprocess"

func (c *inProcessConn) handler(fullMethod string) (*transport.Handler, error) {
	if h := c.handlers[fullMethod]; h != nil {
		return h, nil
	}
	return nil, status.Errorf(codes.Unimplemented, "unknown method %s: no in-process service serves it", fullMethod)
}

func (c *inProcessConn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	ci := transport.ReadCallOptions(opts)
	ci.SetPeer(inProcessPeer)
	call := transport.NewServerCall(method, nil)
	err := c.invoke(ctx, call, method, req, reply)
	ci.Finish(inProcessTransport, call.Header(), call.Trailer(), err)
	return err
}

// inProcessPeer is the peer grpc.Peer reports for in-process calls.
var inProcessPeer = &peer.Peer{Addr: inProcessAddr{}}

type inProcessAddr struct{}

func (inProcessAddr) Network() string { return inProcessTransport }
func (inProcessAddr) String() string  { return inProcessTransport }

func (c *inProcessConn) invoke(ctx context.Context, call *transport.ServerCall, method string, req, reply any) error {
	h, err := c.handler(method)
	if err != nil {
		return err
	}
	in, out, err := transport.ProtoMessages(method, req, reply)
	if err != nil {
		return err
	}
	if err := transport.ContextError(ctx); err != nil {
		return err
	}
	sctx, cancel := serverContext(ctx, call)
	defer cancel()
	// The handler decodes a copy, so neither side sees the other change it.
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}
	if ctx.Done() == nil {
		// Nothing can end the call early: no need for a second goroutine.
		resp, err := h.Unary(sctx, dec)
		return copyReply(out, resp, err)
	}
	type result struct {
		resp proto.Message
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h.Unary(sctx, dec)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return copyReply(out, r.resp, r.err)
	case <-ctx.Done():
		return transport.ContextError(ctx)
	}
}

func copyReply(reply, resp proto.Message, err error) error {
	if err != nil {
		return err
	}
	proto.Reset(reply)
	proto.Merge(reply, resp)
	return nil
}

// serverContext returns the context a handler sees: the caller's deadline
// and cancellation, but none of its values, so the caller's outgoing
// metadata arrives as incoming metadata and nothing else leaks across, as
// on a network.
func serverContext(ctx context.Context, call *transport.ServerCall) (context.Context, context.CancelFunc) {
	md, _ := metadata.FromOutgoingContext(ctx)
	sctx, cancel := context.WithCancel(detached{ctx})
	sctx = metadata.NewIncomingContext(sctx, md.Copy())
	call.SetTransport(inProcessTransport)
	return call.Context(sctx), cancel
}

// detached passes on a context's deadline and cancellation but not its values.
type detached struct{ parent context.Context }

func (d detached) Deadline() (time.Time, bool) { return d.parent.Deadline() }
func (d detached) Done() <-chan struct{}       { return d.parent.Done() }
func (d detached) Err() error                  { return d.parent.Err() }
func (d detached) Value(any) any               { return nil }

func (c *inProcessConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ci := transport.ReadCallOptions(opts)
	ci.SetPeer(inProcessPeer)
	h, err := c.handler(method)
	if err == nil {
		err = transport.ContextError(ctx)
	}
	if err != nil {
		ci.Finish(inProcessTransport, nil, nil, err)
		return nil, err
	}
	st := &inProcessStream{
		ctx:         ctx,
		method:      h.Method,
		info:        ci,
		toServer:    make(chan proto.Message),
		toClient:    make(chan proto.Message),
		headerReady: make(chan struct{}),
		done:        make(chan struct{}),
	}
	st.call = transport.NewServerCall(method, st.publishHeader)
	var sctx context.Context
	sctx, st.cancel = serverContext(ctx, st.call)
	go st.serve(h, &inProcessServerStream{st: st, ctx: sctx})
	return st, nil
}

// inProcessStream is both ends of an in-process streaming call. Messages
// cross on unbuffered channels, so when the handler returns every message it
// sent has been received, and the status can follow them safely.
type inProcessStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	method *transport.MethodDesc
	info   transport.CallInfo
	call   *transport.ServerCall

	toServer  chan proto.Message
	closeSend sync.Once

	headerOnce  sync.Once
	headerReady chan struct{}
	header      metadata.MD

	done    chan struct{}
	err     error // the call's status; read after done is closed
	trailer metadata.MD
	// gotReply is set once a stream with a single response has read it.
	gotReply bool

	toClient chan proto.Message
}

func (st *inProcessStream) serve(h *transport.Handler, ss *inProcessServerStream) {
	err := h.Stream(ss)
	st.publishHeader(st.call.Header())
	st.trailer = st.call.Trailer()
	st.err = err
	close(st.done)
	st.cancel()
	st.info.Finish(inProcessTransport, st.header, st.trailer, err)
}

func (st *inProcessStream) publishHeader(md metadata.MD) error {
	st.headerOnce.Do(func() {
		st.header = md
		close(st.headerReady)
	})
	return nil
}

// Header waits for the server's header.
func (st *inProcessStream) Header() (metadata.MD, error) {
	select {
	case <-st.headerReady:
		return st.header, nil
	case <-st.ctx.Done():
		return nil, transport.ContextError(st.ctx)
	}
}

// Trailer returns the server's trailer once the call has ended.
func (st *inProcessStream) Trailer() metadata.MD {
	select {
	case <-st.done:
		return st.trailer
	default:
		return nil
	}
}

func (st *inProcessStream) CloseSend() error {
	st.closeSend.Do(func() { close(st.toServer) })
	return nil
}

func (st *inProcessStream) Context() context.Context { return st.ctx }

func (st *inProcessStream) SendMsg(m any) error {
	msg := proto.Clone(m.(proto.Message))
	select {
	case st.toServer <- msg:
		return nil
	case <-st.done:
		// As on grpc-go: the status comes from RecvMsg.
		return io.EOF
	case <-st.ctx.Done():
		return transport.ContextError(st.ctx)
	}
}

func (st *inProcessStream) RecvMsg(m any) error {
	msg, err := st.recv()
	if err != nil {
		return err
	}
	if !st.method.Kind.ServerStreams() {
		// One response: it only counts once the call ended well.
		select {
		case <-st.done:
		case <-st.ctx.Done():
			return transport.ContextError(st.ctx)
		}
		if st.err != nil {
			return st.err
		}
		st.gotReply = true
	}
	return copyReply(m.(proto.Message), msg, nil)
}

func (st *inProcessStream) recv() (proto.Message, error) {
	select {
	case msg := <-st.toClient:
		return msg, nil
	case <-st.done:
		if st.err != nil {
			return nil, st.err
		}
		if !st.method.Kind.ServerStreams() && !st.gotReply {
			return nil, status.Errorf(codes.Internal, "%s: handler returned without sending a response", st.method.FullMethod)
		}
		return nil, io.EOF
	case <-st.ctx.Done():
		return nil, transport.ContextError(st.ctx)
	}
}

// inProcessServerStream is the handler's end of an inProcessStream.
type inProcessServerStream struct {
	st  *inProcessStream
	ctx context.Context
}

func (ss *inProcessServerStream) SetHeader(md metadata.MD) error  { return ss.st.call.SetHeader(md) }
func (ss *inProcessServerStream) SendHeader(md metadata.MD) error { return ss.st.call.SendHeader(md) }
func (ss *inProcessServerStream) SetTrailer(md metadata.MD)       { _ = ss.st.call.SetTrailer(md) }
func (ss *inProcessServerStream) Context() context.Context        { return ss.ctx }

func (ss *inProcessServerStream) SendMsg(m any) error {
	// The header goes out with the first message at the latest.
	ss.st.publishHeader(ss.st.call.Header())
	msg := proto.Clone(m.(proto.Message))
	select {
	case ss.st.toClient <- msg:
		return nil
	case <-ss.ctx.Done():
		return transport.ContextError(ss.ctx)
	}
}

func (ss *inProcessServerStream) RecvMsg(m any) error {
	select {
	case msg, ok := <-ss.st.toServer:
		if !ok {
			return io.EOF
		}
		return copyReply(m.(proto.Message), msg, nil)
	case <-ss.ctx.Done():
		return transport.ContextError(ss.ctx)
	}
}
