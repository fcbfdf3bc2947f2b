package runtime

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// NewFallbackConn returns a connection that tries conns in order,
// typically gRPC first and HTTP/JSON second, for networks where one of them
// cannot pass.
//
// A call moves on to the next connection only when that is safe:
//
//   - the previous one failed before the request could have left the
//     client (its error matches [ErrNotSent]: no connection, a client-side
//     refusal such as a streaming kind the transport cannot carry); or
//   - the method is marked idempotent (idempotency_level NO_SIDE_EFFECTS or
//     IDEMPOTENT) and the previous connection failed with Unavailable or
//     Unimplemented, the codes of a transport or route that is not there.
//
// A request that may have reached the service is never sent again unless
// its method says that is harmless. The last connection's error is
// returned when every one fails. [AnsweredBy] reports which connection
// carried the call; grpc.Header, grpc.Trailer and grpc.Peer see that
// connection's call only, and grpc.OnFinish runs once.
//
// Server streams fall back the same way until their first response
// message arrives; client and bidi streams only when opening them fails.
//
// A connection that has a method Serving() bool, as health.Conn in
// runtime/health has, is tried after the others while it returns false:
// its server says it is not serving, or cannot be reached. It is moved
// last, not left out, because health is a hint that may be stale: when
// every connection reports not serving, or the serving ones fail in a way
// that allows moving on, the call is tried on it as before.
func NewFallbackConn(conns ...grpc.ClientConnInterface) grpc.ClientConnInterface {
	return &fallbackConn{conns: conns}
}

type fallbackConn struct {
	conns []grpc.ClientConnInterface
}

// servingReporter is a connection that knows whether its server is
// serving, such as health.Conn.
type servingReporter interface {
	Serving() bool
}

// byHealth returns conns with those that report not serving moved to the
// end, each group in its order. When none does, it returns conns itself,
// so that a fallback without health checks allocates nothing more.
func byHealth(conns []grpc.ClientConnInterface) []grpc.ClientConnInterface {
	var serving, notServing []grpc.ClientConnInterface
	for i, c := range conns {
		r, ok := c.(servingReporter)
		if !ok || r.Serving() {
			if serving != nil {
				serving = append(serving, c)
			}
			continue
		}
		if serving == nil {
			serving = append(make([]grpc.ClientConnInterface, 0, len(conns)), conns[:i]...)
		}
		notServing = append(notServing, c)
	}
	if notServing == nil {
		return conns
	}
	return append(serving, notServing...)
}

// repeatable reports whether the method may be sent twice. A method the
// registry does not know is not.
func repeatable(fullMethod string) bool {
	m, err := transport.Lookup(fullMethod)
	return err == nil && m.Repeatable()
}

// canFallBack reports whether a call that failed with err on one
// connection may be tried on the next.
func canFallBack(ctx context.Context, fullMethod string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, ErrNotSent) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Unimplemented:
		return repeatable(fullMethod)
	}
	return false
}

// withoutOnFinish returns the caller's options without their OnFinish
// callbacks, which the fallback runs once itself, and those callbacks. When
// there are none, opts is returned as is.
func withoutOnFinish(opts []grpc.CallOption) (attempt []grpc.CallOption, onFinish []func(error)) {
	for i, o := range opts {
		f, ok := o.(grpc.OnFinishCallOption)
		if !ok {
			continue
		}
		if attempt == nil {
			attempt = append(make([]grpc.CallOption, 0, len(opts)), opts[:i]...)
		}
		onFinish = append(onFinish, f.OnFinish)
	}
	if onFinish == nil {
		return opts, nil
	}
	for _, o := range opts {
		if _, ok := o.(grpc.OnFinishCallOption); !ok {
			attempt = append(attempt, o)
		}
	}
	return attempt[:len(attempt):len(attempt)], onFinish
}

func noTransports(fullMethod string) error {
	return transport.NotSent(status.Errorf(codes.Unavailable, "%s: the fallback connection has no transports", fullMethod))
}

func (c *fallbackConn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	attempt, onFinish := withoutOnFinish(opts)
	conns := byHealth(c.conns)
	var err error
	if len(conns) == 0 {
		err = noTransports(method)
	}
	for i, conn := range conns {
		err = conn.Invoke(ctx, method, req, reply, attempt...)
		if err == nil || i == len(conns)-1 || !canFallBack(ctx, method, err) {
			break
		}
	}
	for _, f := range onFinish {
		f(err)
	}
	return err
}

func (c *fallbackConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s := &fallbackStream{conns: byHealth(c.conns), ctx: ctx, desc: desc, method: method, kind: transport.KindOf(desc)}
	s.opts, s.onFinish = withoutOnFinish(opts)
	if len(c.conns) == 0 {
		err := noTransports(method)
		s.finish(err)
		return nil, err
	}
	if s.kind == transport.ServerStream {
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
	conns    []grpc.ClientConnInterface
	ctx      context.Context
	desc     *grpc.StreamDesc
	method   string
	kind     transport.StreamKind
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
	opts := append(s.opts[:len(s.opts):len(s.opts)], grpc.OnFinish(func(err error) {
		// Only the attempt the caller ends up with reports its end, and
		// not while RecvMsg may still replay the call elsewhere.
		if s.isCurrent(i) && !s.mayReplay(err) {
			s.finish(err)
		}
	}))
	stream, err := s.conns[i].NewStream(s.ctx, s.desc, s.method, opts...)
	if err != nil {
		return err
	}
	if s.kind == transport.ServerStream {
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
		if m, lerr := transport.Lookup(s.method); lerr == nil {
			if rerr := stream.RecvMsg(m.NewResponse()); rerr != nil && !errors.Is(rerr, io.EOF) {
				return rerr
			}
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
	if err == nil || errors.Is(err, io.EOF) || s.kind != transport.ServerStream {
		return false
	}
	s.mu.Lock()
	received, next := s.received, s.next
	s.mu.Unlock()
	return !received && next < len(s.conns) && canFallBack(s.ctx, s.method, err) && repeatable(s.method)
}

func (s *fallbackStream) stream() (grpc.ClientStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil, status.Errorf(codes.Internal, "%s: the stream is not open (call CloseSend after SendMsg)", s.method)
	}
	return s.current, nil
}

func (s *fallbackStream) Context() context.Context { return s.ctx }

func (s *fallbackStream) SendMsg(m any) error {
	if s.kind == transport.ServerStream {
		if s.req != nil {
			return status.Errorf(codes.Internal, "%s: a server-streaming call takes exactly one request", s.method)
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
	if s.kind == transport.ServerStream {
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
