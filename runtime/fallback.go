package runtime

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// NewFallbackConn returns a Conn that tries conns in order, typically gRPC
// first and HTTP/JSON second, for networks where one of them cannot pass.
//
// A call moves on to the next Conn only when that is safe:
//
//   - the previous Conn failed before the request could have left the
//     client (its error matches [ErrNotSent]: no connection, a client-side
//     refusal such as a streaming kind the transport cannot carry); or
//   - the method is idempotent ([Idempotency.Repeatable]) and the previous
//     Conn failed with Unavailable or Unimplemented, the codes of a
//     transport or route that is not there.
//
// A request that may have reached the service is never sent again unless
// its method says that is harmless. The last Conn's error is returned when
// every one fails. [AnsweredBy] reports which Conn carried the call;
// grpc.Header, grpc.Trailer and grpc.OnFinish see that Conn's call only,
// and OnFinish runs once.
//
// Server streams fall back the same way until their first response
// message arrives; client and bidi streams only when opening them fails.
func NewFallbackConn(conns ...Conn) Conn {
	return &fallbackConn{conns: conns}
}

type fallbackConn struct {
	conns []Conn
}

// canFallBack reports whether a call that failed with err on one Conn may
// be tried on the next.
func canFallBack(ctx context.Context, m *MethodDesc, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, ErrNotSent) {
		return true
	}
	if !m.Idempotency.Repeatable() {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Unimplemented:
		return true
	}
	return false
}

// attemptOptions appends to dst the options for one attempt: the caller's
// without their OnFinish callbacks, which the fallback runs once itself, and
// a grpc.Peer option writing to p, which lets the gRPC transport tell a call
// that never reached a connection (its Peer stays empty) from one that did.
func attemptOptions(dst, opts []grpc.CallOption, p *peer.Peer) (attempt []grpc.CallOption, onFinish []func(error)) {
	attempt = dst
	for _, o := range opts {
		if f, ok := o.(grpc.OnFinishCallOption); ok {
			onFinish = append(onFinish, f.OnFinish)
			continue
		}
		attempt = append(attempt, o)
	}
	return append(attempt, grpc.Peer(p)), onFinish
}

// unaryAttempt holds what Invoke passes to each attempt. It is pooled:
// every transport is done with a unary call's options and grpc.Peer when
// Invoke returns, so a healthy first transport costs no allocation here.
// (Streams fill grpc.Peer when they end, so they do not use it.)
type unaryAttempt struct {
	opts []grpc.CallOption
	peer peer.Peer
}

var unaryAttempts = sync.Pool{New: func() any { return new(unaryAttempt) }}

func (c *fallbackConn) Invoke(ctx context.Context, m *MethodDesc, req, reply proto.Message, opts ...grpc.CallOption) error {
	a := unaryAttempts.Get().(*unaryAttempt)
	var onFinish []func(error)
	a.opts, onFinish = attemptOptions(a.opts, opts, &a.peer)
	var err error
	for i, conn := range c.conns {
		a.peer = peer.Peer{} // a fresh Peer tells each attempt's gRPC transport whether it sent
		err = conn.Invoke(ctx, m, req, reply, a.opts...)
		if err == nil || i == len(c.conns)-1 || !canFallBack(ctx, m, err) {
			break
		}
	}
	clear(a.opts) // drop the caller's options before the next call sees them
	a.opts, a.peer = a.opts[:0], peer.Peer{}
	unaryAttempts.Put(a)
	if len(c.conns) == 0 {
		err = NotSent(status.Errorf(codes.Unavailable, "%s: the fallback connection has no transports", m.FullMethod))
	}
	for _, f := range onFinish {
		f(err)
	}
	return err
}

func (c *fallbackConn) NewStream(ctx context.Context, m *MethodDesc, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s := &fallbackStream{conns: c.conns, ctx: ctx, method: m}
	s.opts, s.onFinish = attemptOptions(make([]grpc.CallOption, 0, len(opts)+1), opts, new(peer.Peer))
	if len(c.conns) == 0 {
		err := NotSent(status.Errorf(codes.Unavailable, "%s: the fallback connection has no transports", m.FullMethod))
		s.finish(err)
		return nil, err
	}
	if m.Kind == ServerStream {
		// The request is known only once sent: open the stream in CloseSend.
		return s, nil
	}
	if err := s.open(0, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// fallbackStream is a stream on the first Conn that opens it. A server
// stream keeps its one request, so that it can be replayed on the next
// Conn while no response has arrived.
type fallbackStream struct {
	conns    []Conn
	ctx      context.Context
	method   *MethodDesc
	opts     []grpc.CallOption
	onFinish []func(error)

	req any

	mu       sync.Mutex
	next     int // the index of the Conn to try next
	current  grpc.ClientStream
	attempt  int // the index of current's Conn
	received bool

	finishOnce sync.Once
}

func (s *fallbackStream) finish(err error) {
	s.finishOnce.Do(func() {
		for _, f := range s.onFinish {
			f(err)
		}
	})
}

// open opens the stream on the Conns from index from on, sending req
// first on server streams. It returns the last error if none opens.
func (s *fallbackStream) open(from int, req any) error {
	var err error
	for i := from; i < len(s.conns); i++ {
		s.mu.Lock()
		s.next = i + 1
		s.mu.Unlock()
		err = s.openOne(i, req)
		if err == nil {
			return nil
		}
		if i == len(s.conns)-1 || !canFallBack(s.ctx, s.method, err) {
			break
		}
	}
	s.finish(err)
	return err
}

func (s *fallbackStream) openOne(i int, req any) error {
	opts := append(s.opts[:len(s.opts)-1:len(s.opts)-1], grpc.Peer(new(peer.Peer)), grpc.OnFinish(func(err error) {
		// Only the attempt the caller ends up with reports its end, and
		// not while RecvMsg may still replay the call elsewhere.
		if s.isCurrent(i) && !s.mayReplay(err) {
			s.finish(err)
		}
	}))
	stream, err := s.conns[i].NewStream(s.ctx, s.method, opts...)
	if err != nil {
		return err
	}
	if s.method.Kind == ServerStream {
		if err := stream.SendMsg(req); err != nil {
			return s.sendError(stream, err)
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
	}
	s.setCurrent(i, stream)
	return nil
}

// sendError returns the status of a stream whose SendMsg failed: grpc-go
// reports io.EOF there and the status on RecvMsg.
func (s *fallbackStream) sendError(stream grpc.ClientStream, err error) error {
	if errors.Is(err, io.EOF) {
		if rerr := stream.RecvMsg(s.method.NewResponse()); rerr != nil && !errors.Is(rerr, io.EOF) {
			return rerr
		}
	}
	return err
}

func (s *fallbackStream) setCurrent(i int, stream grpc.ClientStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.attempt = stream, i
}

func (s *fallbackStream) isCurrent(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current != nil && s.attempt == i
}

// mayReplay reports whether a server stream that failed with err may be
// replayed on the next Conn: no response has arrived and the method may be
// repeated.
func (s *fallbackStream) mayReplay(err error) bool {
	if err == nil || errors.Is(err, io.EOF) || s.method.Kind != ServerStream {
		return false
	}
	s.mu.Lock()
	received, next := s.received, s.next
	s.mu.Unlock()
	return !received && next < len(s.conns) && canFallBack(s.ctx, s.method, err) && s.method.Idempotency.Repeatable()
}

func (s *fallbackStream) stream() (grpc.ClientStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil, status.Errorf(codes.Internal, "%s: the stream is not open (call CloseSend after SendMsg)", s.method.FullMethod)
	}
	return s.current, nil
}

func (s *fallbackStream) Context() context.Context { return s.ctx }

func (s *fallbackStream) SendMsg(m any) error {
	if s.method.Kind == ServerStream {
		if s.req != nil {
			return status.Errorf(codes.Internal, "%s: a server-streaming call takes exactly one request", s.method.FullMethod)
		}
		s.req = m
		return nil
	}
	st, err := s.stream()
	if err != nil {
		return err
	}
	return st.SendMsg(m)
}

func (s *fallbackStream) CloseSend() error {
	if s.method.Kind == ServerStream {
		if st, _ := s.stream(); st != nil {
			return nil
		}
		return s.open(0, s.req)
	}
	st, err := s.stream()
	if err != nil {
		return err
	}
	return st.CloseSend()
}

func (s *fallbackStream) Header() (metadata.MD, error) {
	st, err := s.stream()
	if err != nil {
		return nil, err
	}
	return st.Header()
}

func (s *fallbackStream) Trailer() metadata.MD {
	st, err := s.stream()
	if err != nil {
		return nil
	}
	return st.Trailer()
}

func (s *fallbackStream) RecvMsg(m any) error {
	st, err := s.stream()
	if err != nil {
		return err
	}
	err = st.RecvMsg(m)
	for s.mayReplay(err) {
		// No response arrived yet and the method may be repeated: replay
		// the request on the next Conn.
		s.mu.Lock()
		next := s.next
		s.mu.Unlock()
		if oerr := s.open(next, s.req); oerr != nil {
			return oerr
		}
		st, _ = s.stream()
		err = st.RecvMsg(m)
	}
	if err == nil {
		s.mu.Lock()
		s.received = true
		s.mu.Unlock()
	}
	return err
}
