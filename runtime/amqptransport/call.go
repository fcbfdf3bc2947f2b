package amqptransport

import (
	"context"
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime/transport"
)

// Invoke performs a unary call: it publishes the request and waits for the
// reply with the same correlation_id, the context's end, or the loss of the
// channel that carries it, whichever comes first.
func (c *Conn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	ci := transport.ReadCallOptions(opts)
	header, trailer, err := c.invoke(ctx, method, req, reply, &ci, opts)
	ci.Finish(Name, header, trailer, err)
	return err
}

// invoke is one call's life, step by step: encode the request, choose
// where it goes, take the live session, publish on a lane, await the
// reply, decode it.
func (c *Conn) invoke(ctx context.Context, method string, anyReq, anyReply any, ci *transport.CallInfo, opts []grpc.CallOption) (header, trailer metadata.MD, err error) {
	req, reply, err := transport.ProtoMessages(method, anyReq, anyReply)
	if err != nil {
		return nil, nil, err
	}
	if err := transport.ContextError(ctx); err != nil {
		return nil, nil, err
	}
	maxSend, maxRecv := c.cfg.maxSend, c.cfg.maxRecv
	if ci.MaxSendMsgSize > 0 {
		maxSend = ci.MaxSendMsgSize
	}
	if ci.MaxRecvMsgSize > 0 {
		maxRecv = ci.MaxRecvMsgSize
	}

	creds, err := c.perRPCMetadata(ctx, method, opts)
	if err != nil {
		return nil, nil, err
	}
	bufp, _ := c.bufs.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer c.bufs.Put(bufp)
	pub, err := c.encodeRequest(ctx, method, req, creds, bufp, maxSend)
	if err != nil {
		return nil, nil, err
	}
	dst := c.destination(method, len(pub.Body))

	s, err := c.callSession(ctx, ci, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkPresence(ctx, dst); err != nil {
		return nil, nil, err
	}
	pub.ReplyTo = s.replyTo
	id := c.seq.Add(1)
	pub.CorrelationId = c.correlationID(id)
	pc := &pendingCall{done: make(chan result, 1)}

	l, err := s.publish(ctx, dst, id, pc, &pub)
	if err != nil {
		return nil, nil, err
	}
	d, err := s.awaitReply(ctx, id, pc, l, dst, pub.CorrelationId)
	if err != nil {
		return nil, nil, err
	}
	return c.readReply(d, reply, maxRecv)
}

// encodeRequest returns the request's publishing: the body, encoded into
// *bufp, and the credentials' metadata and the context's outgoing metadata
// as headers. Reply-to, correlation_id and
// the deadline are set later, once the session and the lane are known.
func (c *Conn) encodeRequest(ctx context.Context, method string, req proto.Message, creds metadata.MD, bufp *[]byte, maxSend int) (amqp.Publishing, error) {
	body, err := c.cfg.codec.MarshalAppend((*bufp)[:0], req)
	if err != nil {
		return amqp.Publishing{}, status.Errorf(codes.Internal, "amqptransport: encoding the request: %v", err)
	}
	*bufp = body
	if len(body) > maxSend {
		return amqp.Publishing{}, status.Errorf(codes.ResourceExhausted, "amqptransport: request of %d bytes is larger than the limit of %d", len(body), maxSend)
	}
	pub := amqp.Publishing{ContentType: c.contentType, Type: method, Body: body}
	md, ok := metadata.FromOutgoingContext(ctx)
	if len(creds) > 0 {
		md, ok = metadata.Join(creds, md), true
	}
	if ok {
		if pub.Headers, err = putMetadata(nil, "", md); err != nil {
			return amqp.Publishing{}, err
		}
	}
	return pub, nil
}

// destination is where a request is published, and whether it needs an
// isolated lane (see lane).
type destination struct {
	exchange, key string
	isolated      bool
}

// destination routes a request of size bytes for method.
func (c *Conn) destination(method string, size int) destination {
	exchange, key := "", serviceName(method)
	if c.cfg.route != nil {
		exchange, key = c.cfg.route(method)
	}
	return destination{exchange: exchange, key: key, isolated: exchange != "" || size > c.cfg.isolateAbove}
}

// callSession returns the session a call publishes on, refusing the call
// while the broker blocks publishers, and tells the grpc.Peer options whom
// the call talks to.
func (c *Conn) callSession(ctx context.Context, ci *transport.CallInfo, opts []grpc.CallOption) (*session, error) {
	s, err := c.session(ctx, waitForReady(opts))
	if err != nil {
		return nil, err
	}
	if reason := s.blocked.Load(); reason != nil {
		return nil, transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: the broker is blocking publishers: %s", *reason))
	}
	if len(ci.Peers) > 0 {
		ci.SetPeer(&peer.Peer{Addr: s.conn.RemoteAddr(), LocalAddr: s.conn.LocalAddr()})
	}
	return s, nil
}

// checkPresence fails a call to the default exchange whose queue has no
// consumer (see presence); other calls pass.
func (s *session) checkPresence(ctx context.Context, dst destination) error {
	if s.presence == nil || dst.exchange != "" {
		return nil
	}
	return s.presence.check(ctx, dst.key)
}

// publish registers the call under id and publishes its request on a lane,
// which it returns. A lane that died under the call, before the request
// left, is replaced once.
func (s *session) publish(ctx context.Context, dst destination, id uint64, pc *pendingCall, pub *amqp.Publishing) (*lane, error) {
	for attempt := 0; ; attempt++ {
		l, err := s.lane(dst.isolated)
		if err != nil {
			return nil, err
		}
		pc.lane = l
		if !s.pending.add(id, pc) {
			// The lane died since we took it; a new one is opened below.
			if attempt == 0 {
				continue
			}
			return nil, transport.NotSent(status.Error(codes.Unavailable, "amqptransport: request channel closed"))
		}
		if !setDeadline(ctx, pub) {
			s.forget(id, pc)
			if dst.isolated {
				s.releaseIsolated(l)
			}
			return nil, status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
		}
		err = l.ch.Publish(dst.exchange, dst.key, true, false, *pub)
		if err == nil {
			return l, nil
		}
		s.forget(id, pc)
		if attempt == 0 && errors.Is(err, amqp.ErrClosed) && !s.conn.IsClosed() {
			continue // the channel was closed under us, not sent: once more on a new one
		}
		return nil, publishError(err)
	}
}

// lane returns the lane for a call: the shared one, or an isolated one.
func (s *session) lane(isolated bool) (*lane, error) {
	if isolated {
		return s.isolatedLane()
	}
	return s.sharedLane()
}

// setDeadline puts ctx's deadline on the request, as its expiration and
// header. It is called as late as possible, so that expiration counts from
// the moment the request leaves, and reports false if the deadline has
// passed.
func setDeadline(ctx context.Context, pub *amqp.Publishing) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	exp, ms, ok := encodeDeadline(deadline, time.Now())
	if !ok {
		return false
	}
	if pub.Headers == nil {
		pub.Headers = make(amqp.Table, 1)
	}
	pub.Expiration = exp
	pub.Headers[hdrDeadline] = ms
	return true
}

// awaitReply waits for the call's reply (or the error that replaced it)
// or ctx's end, then hands an isolated lane back. A call whose context is
// cancelled (not one whose deadline passed: the server sees that itself)
// tells the servers of dst, so that the handler's context is cancelled too.
func (s *session) awaitReply(ctx context.Context, id uint64, pc *pendingCall, l *lane, dst destination, correlationID string) (amqp.Delivery, error) {
	isolated := dst.isolated
	var r result
	select {
	case r = <-pc.done:
	case <-ctx.Done():
		if s.pending.take(id) != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				s.cancelLater(dst.key, correlationID)
			}
			if isolated {
				// The request may still be refused later on this channel:
				// it must carry no other call.
				s.closeLater(l)
			}
			return amqp.Delivery{}, transport.ContextError(ctx)
		}
		r = <-pc.done // the reply came at the same time: take it
	}
	if isolated {
		s.releaseIsolated(l)
	}
	return r.d, r.err
}

// forget unregisters a call that will not wait for its reply. If the call
// is already gone from the table, a result is on its way to pc.done: it is
// taken, so that pc.done is empty for the call's next attempt.
func (s *session) forget(id uint64, pc *pendingCall) {
	if s.pending.take(id) == nil {
		<-pc.done
	}
}

// readReply turns a reply delivery into the call's outcome.
func (c *Conn) readReply(d amqp.Delivery, reply proto.Message, maxRecv int) (header, trailer metadata.MD, err error) {
	header, trailer, err = readReply(d.Headers)
	if err != nil {
		return header, trailer, err
	}
	if len(d.Body) > maxRecv {
		return header, trailer, status.Errorf(codes.ResourceExhausted, "amqptransport: reply of %d bytes is larger than the limit of %d", len(d.Body), maxRecv)
	}
	codec, err := c.codecs.forContentType(d.ContentType, c.cfg.codec)
	if err != nil {
		return header, trailer, status.Errorf(codes.Internal, "amqptransport: reply: %v", err)
	}
	if err := codec.Unmarshal(d.Body, reply); err != nil {
		return header, trailer, status.Errorf(codes.Internal, "amqptransport: decoding the %s reply: %v", codec.Name(), err)
	}
	return header, trailer, nil
}
