package retry

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

type opener func(context.Context, []grpc.CallOption) (grpc.ClientStream, error)

// newStream opens a stream under p. Client and bidi streams are retried
// only while opening fails with an ErrNotSent error (their messages are
// not kept, so nothing else can be replayed). Server streams keep their one
// request and are opened on CloseSend, so that they can be replayed until
// the first response arrives.
func (r *Retrier) newStream(ctx context.Context, p *policy, desc *grpc.StreamDesc, method string, opts []grpc.CallOption, open opener) (grpc.ClientStream, error) {
	ctx, cancel := withTimeout(ctx, p)
	s := &retryStream{r: r, ctx: ctx, cancel: cancel, method: method, open: open, call: r.newCall(ctx, p, method)}
	// No grpc.Header/grpc.Trailer here: transports may fill those from
	// another goroutine. Pushback is read from the stream after RecvMsg.
	s.opts, s.fin.fns = attemptOptions(p, opts)
	if transport.KindOf(desc) == transport.ServerStream {
		return s, nil
	}
	for {
		stream, end, err := s.openOne()
		if err == nil {
			r.throttle.success()
			end.commit()
			return stream, nil // the stream ends the timeout's context when it is done
		}
		var delay time.Duration
		again := false
		if errors.Is(err, transport.ErrNotSent) {
			delay, again = s.call.retryAfter(err, s.header, s.trailer)
		}
		if again {
			if werr := s.call.wait(delay); werr != nil {
				err = werr
				again = false
			}
		}
		if !again {
			s.fin.report(err)
			cancel()
			return nil, err
		}
	}
}

// retryStream is a server stream that can be replayed on a new attempt
// until it is committed, and the opener of client and bidi streams.
type retryStream struct {
	r      *Retrier
	ctx    context.Context
	cancel context.CancelFunc
	method string
	open   opener
	call   *call
	opts   []grpc.CallOption
	fin    finisher

	// header and trailer of the latest failed attempt, for pushback.
	header, trailer metadata.MD

	req       any
	mu        sync.Mutex
	current   grpc.ClientStream
	end       *attemptEnd
	committed bool
}

// openOne opens one attempt. Its OnFinish reaches the caller only once the
// attempt is committed.
func (s *retryStream) openOne() (grpc.ClientStream, *attemptEnd, error) {
	s.header, s.trailer = nil, nil
	end := &attemptEnd{f: &s.fin}
	opts := s.opts
	if len(s.fin.fns) > 0 {
		opts = append(opts[:len(opts):len(opts)], grpc.OnFinish(end.onFinish))
	}
	stream, err := s.open(s.ctx, opts)
	return stream, end, err
}

// openServerStream opens an attempt and sends the request.
func (s *retryStream) openServerStream() error {
	stream, end, err := s.openOne()
	s.mu.Lock()
	s.end = end // even when opening failed: its end may be the call's
	if err == nil {
		s.current = stream
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := stream.SendMsg(s.req); err != nil {
		if errors.Is(err, io.EOF) {
			// grpc-go reports io.EOF here and the status on RecvMsg.
			return nil
		}
		return err
	}
	return stream.CloseSend()
}

// replay opens attempts until one opens or retryAfter says stop.
func (s *retryStream) replay(err error) error {
	for {
		delay, again := s.call.retryAfter(err, s.header, s.trailer)
		if !again {
			return err
		}
		if werr := s.call.wait(delay); werr != nil {
			return werr
		}
		if err = s.openServerStream(); err == nil {
			return nil
		}
	}
}

// done ends the call with err: the latest attempt becomes the caller's.
func (s *retryStream) done(err error) {
	s.mu.Lock()
	end := s.end
	s.committed = true
	s.mu.Unlock()
	if end != nil {
		end.commit()
	}
	if err != nil {
		// When the transport has not reported the last attempt's end
		// (some do not when opening fails), report it here; finisher
		// reports only the first.
		s.fin.report(err)
		s.cancel()
	}
}

func (s *retryStream) stream() (grpc.ClientStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil, status.Errorf(codes.Internal, "%s: the stream is not open (call CloseSend after SendMsg)", s.method)
	}
	return s.current, nil
}

func (s *retryStream) Context() context.Context { return s.ctx }

func (s *retryStream) SendMsg(m any) error {
	if s.req != nil {
		return status.Errorf(codes.Internal, "%s: a server-streaming call takes exactly one request", s.method)
	}
	s.req = m
	return nil
}

func (s *retryStream) CloseSend() error {
	if st, _ := s.stream(); st != nil {
		return nil
	}
	if s.req == nil {
		return status.Errorf(codes.Internal, "%s: CloseSend before SendMsg", s.method)
	}
	err := s.openServerStream()
	if err != nil {
		err = s.replay(err)
	}
	if err != nil {
		s.done(err)
	}
	return err
}

func (s *retryStream) Header() (metadata.MD, error) {
	st, err := s.stream()
	if err != nil {
		return nil, err
	}
	return st.Header()
}

func (s *retryStream) Trailer() metadata.MD {
	st, err := s.stream()
	if err != nil {
		return nil
	}
	return st.Trailer()
}

func (s *retryStream) RecvMsg(m any) error {
	st, err := s.stream()
	if err != nil {
		return err
	}
	err = st.RecvMsg(m)
	s.mu.Lock()
	committed := s.committed
	s.mu.Unlock()
	if committed {
		if err != nil {
			s.cancel()
		}
		return err
	}
	switch {
	case err == nil:
		s.r.throttle.success()
		s.done(nil)
		return nil
	case errors.Is(err, io.EOF):
		s.r.throttle.success()
		s.done(nil)
		s.cancel()
		return err
	}
	// No response yet: the call may be replayed.
	s.header, _ = st.Header() // the stream has ended: this does not block
	s.trailer = st.Trailer()
	if rerr := s.replay(err); rerr != nil {
		s.done(rerr)
		return rerr
	}
	return s.RecvMsg(m)
}
