package amqptransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// ErrServerClosed is returned by [Server.Serve] after Shutdown or Close.
var ErrServerClosed = errors.New("amqptransport: server closed")

// Server is the server half of the transport: it consumes each registered
// service's queue and answers every request on its reply_to, with a
// bounded number of requests running at once. Several servers may consume
// one queue; the broker shares requests between them.
//
// A request is acked once its reply is published, so a request whose
// server dies mid-call is delivered again to another: handlers must
// tolerate being run twice for one call in that case (at-least-once).
// Requests that cannot be served (malformed, unknown method, past their
// deadline) are answered with an error and acked, never requeued.
//
// A server uses one connection and at most six channels on it, whatever
// the number of services and workers: one that every service's consumer
// runs on, one for replies, and four that take turns carrying replies
// above 64 KiB (the kind a broker may refuse by closing the channel), so
// that such a refusal fails no other reply. While it connects it opens
// one more at a time to declare each queue, and closes it.
type Server struct {
	cfg serverConfig

	mu      sync.Mutex
	regs    []*registration
	started bool

	closing   chan struct{} // closed by Shutdown or Close
	abort     chan struct{} // closed by Close: stop draining
	closeOnce sync.Once
	abortOnce sync.Once
	stopped   chan struct{} // closed when the server's goroutine has returned
	baseCtx   context.Context
	cancel    context.CancelFunc
}

type registration struct {
	svc   *runtime.Service
	queue string
	setup func(ch *amqp.Channel, queue string) error
}

// NewServer returns a server; register services on it, then Start or Serve.
func NewServer(opts ...ServerOption) *Server {
	cfg := serverConfig{
		commonConfig: defaultCommon(),
		concurrency:  DefaultConcurrency,
		codecs:       defaultCodecs(),
		defaultCodec: runtime.ProtoCodec{},
	}
	for _, o := range opts {
		o.applyToServer(&cfg)
	}
	if cfg.concurrency < 1 {
		cfg.concurrency = 1
	}
	if cfg.prefetch <= 0 {
		cfg.prefetch = cfg.concurrency
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		closing: make(chan struct{}),
		abort:   make(chan struct{}),
		stopped: make(chan struct{}),
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Register adds a service, served from the queue named after it unless
// WithQueue says otherwise. It panics if called after Start or Serve, as
// grpc.Server's RegisterService does.
func (s *Server) Register(svc *runtime.Service, opts ...RegisterOption) {
	r := &registration{svc: svc, queue: svc.Name()}
	for _, o := range opts {
		o.applyToRegistration(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("amqptransport: Register called after Start or Serve")
	}
	s.regs = append(s.regs, r)
}

// Start connects to the broker at url, declares each service's queue and
// starts consuming. It returns the first connection's error, if any; after
// that the server serves in the background, reconnecting when the
// connection is lost, until Shutdown or Close.
func (s *Server) Start(url string) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("amqptransport: server already started")
	}
	s.started = true
	s.mu.Unlock()
	if _, err := amqp.ParseURI(url); err != nil {
		close(s.stopped)
		return fmt.Errorf("amqptransport: %w", err)
	}
	ss, err := s.connect(url)
	if err != nil {
		close(s.stopped)
		return fmt.Errorf("amqptransport: %w", err)
	}
	go s.supervise(url, ss)
	return nil
}

// Serve is Start, then waits until the server is shut down or closed, and
// returns ErrServerClosed.
func (s *Server) Serve(url string) error {
	if err := s.Start(url); err != nil {
		return err
	}
	<-s.stopped
	return ErrServerClosed
}

// Shutdown stops the server gracefully: it cancels its consumers, so the
// broker stops handing it requests, finishes the requests it holds and
// publishes their replies, then closes the connection. If ctx ends first,
// Shutdown closes the server as Close does and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
}

// Close stops the server at once: handlers' contexts are cancelled and the
// connection is closed, so the broker requeues the requests not yet
// answered. Close returns once every handler has returned.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.abortOnce.Do(func() {
		close(s.abort)
		s.cancel()
	})
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.stopped
	}
	return nil
}

// serverSession is one connection of a Server and what runs on it.
type serverSession struct {
	srv    *Server
	conn   *amqp.Connection
	closes chan *amqp.Error
	// consuming is the one channel every service's consumer runs on. Its
	// prefetch applies to each consumer apart (RabbitMQ's basic.qos with
	// global=false), so services do not share it.
	consuming *amqp.Channel
	consumers []*consumer
	ctx       context.Context // handlers' parent: ended with the session
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	// consumerEnded receives when a consumer's deliveries end while the
	// session is not shutting down (its queue was deleted, or its channel
	// closed): the session must be rebuilt.
	consumerEnded chan string
	draining      atomic.Bool
	replies       *replyChannels
}

type consumer struct {
	reg  *registration
	tag  string
	live atomic.Int32 // workers still running
}

func (s *Server) connect(url string) (*serverSession, error) {
	cfg := s.cfg.dialConfig("svcclient amqptransport server")
	if cfg.Dial == nil {
		cfg.Dial = contextDialer(s.baseCtx)
	}
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, err
	}
	ss := &serverSession{
		srv:           s,
		conn:          conn,
		closes:        conn.NotifyClose(make(chan *amqp.Error, 1)),
		consumerEnded: make(chan string, 1),
	}
	ss.ctx, ss.cancel = context.WithCancel(s.baseCtx)
	ss.replies = newReplyChannels(conn)
	if ss.consuming, err = conn.Channel(); err == nil {
		err = ss.consuming.Qos(s.cfg.prefetch, 0, false)
	}
	if err != nil {
		ss.cancel()
		_ = conn.Close()
		return nil, err
	}
	s.mu.Lock()
	regs := s.regs
	s.mu.Unlock()
	type started struct {
		c          *consumer
		deliveries <-chan amqp.Delivery
	}
	var all []started
	for _, r := range regs {
		c, deliveries, err := ss.consume(r)
		if err != nil {
			ss.cancel()
			_ = conn.Close()
			return nil, fmt.Errorf("serving %s from queue %q: %w", r.svc.Name(), r.queue, err)
		}
		all = append(all, started{c, deliveries})
	}
	// Workers start once every queue is set up, so a failed connect leaves
	// nothing running.
	for _, st := range all {
		ss.consumers = append(ss.consumers, st.c)
		st.c.live.Store(int32(s.cfg.concurrency))
		for i := 0; i < s.cfg.concurrency; i++ {
			ss.workers.Add(1)
			go ss.work(st.c, st.deliveries)
		}
	}
	return ss, nil
}

// consume declares r's queue and subscribes to it.
func (ss *serverSession) consume(r *registration) (*consumer, <-chan amqp.Delivery, error) {
	// The declaration runs on a channel of its own: a failed declaration
	// closes the channel it ran on.
	setupCh, err := ss.conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	if r.setup != nil {
		err = r.setup(setupCh, r.queue)
	} else {
		_, err = setupCh.QueueDeclare(r.queue, true, true, false, false, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	_ = setupCh.Close()
	c := &consumer{reg: r, tag: "svcclient-" + r.queue}
	deliveries, err := ss.consuming.Consume(r.queue, c.tag, false, false, false, false, nil)
	if err != nil {
		return nil, nil, err
	}
	return c, deliveries, nil
}

// work serves requests until the consumer's deliveries end.
func (ss *serverSession) work(c *consumer, deliveries <-chan amqp.Delivery) {
	defer ss.workers.Done()
	for d := range deliveries {
		ss.serve(c.reg, d)
	}
	if c.live.Add(-1) == 0 && !ss.draining.Load() {
		select {
		case ss.consumerEnded <- c.reg.queue:
		default:
		}
	}
}

// serve answers one request and acks it.
func (ss *serverSession) serve(r *registration, d amqp.Delivery) {
	s := ss.srv
	if d.ReplyTo == "" {
		s.cfg.logger.Warn("amqptransport: dropping a request without reply_to", "queue", r.queue, "type", d.Type, "correlation_id", d.CorrelationId)
		_ = d.Ack(false)
		return
	}
	reply := ss.handle(r, d)
	if err := ss.replies.publish(d.ReplyTo, reply); err != nil {
		s.cfg.logger.Error("amqptransport: publishing a reply", "queue", r.queue, "method", d.Type, "correlation_id", d.CorrelationId, "error", err)
		if ss.conn.IsClosed() {
			return // the broker requeues the request
		}
	}
	_ = d.Ack(false)
}

// handle runs the request and returns its reply.
func (ss *serverSession) handle(r *registration, d amqp.Delivery) (reply amqp.Publishing) {
	s := ss.srv
	deadline, hasDeadline, err := headerDeadline(d.Headers)
	reply.CorrelationId = d.CorrelationId
	if hasDeadline {
		// The reply is worth nothing after the caller's deadline: let the
		// broker drop it then, if it is queued (a private reply queue).
		defer func() {
			exp, _, ok := encodeDeadline(deadline, time.Now())
			if !ok {
				exp = "1"
			}
			reply.Expiration = exp
		}()
	}
	fail := func(header, trailer metadata.MD, err error) amqp.Publishing {
		h, herr := replyHeaders(header, trailer, status.Convert(err))
		if herr != nil {
			h, _ = replyHeaders(nil, nil, status.Convert(herr))
		}
		reply.Headers = h
		return reply
	}
	if err != nil {
		return fail(nil, nil, status.Error(codes.InvalidArgument, err.Error()))
	}
	handler, err := ss.method(r, d.Type)
	if err != nil {
		return fail(nil, nil, err)
	}
	m := handler.Method
	if hasDeadline && !time.Now().Before(deadline) {
		return fail(nil, nil, status.Errorf(codes.DeadlineExceeded, "%s: deadline passed before the request was served", m.FullMethod))
	}
	if len(d.Body) > s.cfg.maxRecv {
		return fail(nil, nil, status.Errorf(codes.ResourceExhausted, "%s: request of %d bytes is larger than the server's limit of %d", m.FullMethod, len(d.Body), s.cfg.maxRecv))
	}
	if d.ContentEncoding != "" && d.ContentEncoding != "identity" {
		return fail(nil, nil, status.Errorf(codes.InvalidArgument, "%s: unsupported content_encoding %q", m.FullMethod, d.ContentEncoding))
	}
	codec, err := s.cfg.codecs.forContentType(d.ContentType, s.cfg.defaultCodec)
	if err != nil {
		return fail(nil, nil, status.Errorf(codes.InvalidArgument, "%s: %v", m.FullMethod, err))
	}
	ctx := ss.ctx
	if hasDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	ctx = metadata.NewIncomingContext(ctx, requestMetadata(d.Headers))
	call := transport.NewServerCall(m.FullMethod, nil)
	call.SetTransport(Name)
	call.SetMessageInfo(transport.MessageInfo{Destination: r.queue, RoutingKey: d.RoutingKey, CorrelationID: d.CorrelationId})
	resp, err := handler.Unary(call.Context(ctx), func(req any) error {
		if err := codec.Unmarshal(d.Body, req.(proto.Message)); err != nil {
			return status.Errorf(codes.InvalidArgument, "%s: decoding the %s request: %v", m.FullMethod, codec.Name(), err)
		}
		return nil
	})
	header, trailer := call.Header(), call.Trailer()
	if err != nil {
		return fail(header, trailer, err)
	}
	body, err := codec.MarshalAppend(nil, resp)
	if err != nil {
		return fail(header, trailer, status.Errorf(codes.Internal, "%s: encoding the %s reply: %v", m.FullMethod, codec.Name(), err))
	}
	if len(body) > s.cfg.maxSend {
		return fail(header, trailer, status.Errorf(codes.ResourceExhausted, "%s: reply of %d bytes is larger than the server's limit of %d", m.FullMethod, len(body), s.cfg.maxSend))
	}
	h, err := replyHeaders(header, trailer, nil)
	if err != nil {
		return fail(nil, nil, err)
	}
	reply.Headers = h
	reply.Body = body
	reply.ContentType = d.ContentType
	if reply.ContentType == "" {
		reply.ContentType = contentType(codec)
	}
	return reply
}

// method finds the method a request names in its type property: the gRPC
// path ("/helloworld.Greeter/SayHello") or the bare name ("SayHello").
func (ss *serverSession) method(r *registration, name string) (*transport.Handler, error) {
	var h *transport.Handler
	switch {
	case name == "":
		return nil, status.Error(codes.InvalidArgument, "request names no method: set the type property to the method's path, /package.Service/Method")
	case strings.HasPrefix(name, "/"):
		h = r.svc.Handler(name)
	default:
		h = r.svc.Handler("/" + r.svc.Name() + "/" + name)
	}
	if h == nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s for service %s", name, r.svc.Name())
	}
	if h.Method.Kind != transport.Unary {
		return nil, status.Errorf(codes.Unimplemented, errStreaming, h.Method.FullMethod, h.Method.Kind)
	}
	return h, nil
}

// wait blocks until the session must end: it returns why, or nil when the
// server is closing.
func (ss *serverSession) wait(closing <-chan struct{}) error {
	select {
	case e, ok := <-ss.closes:
		if !ok || e == nil {
			return errors.New("connection closed")
		}
		return e
	case q := <-ss.consumerEnded:
		return fmt.Errorf("consumer of queue %q ended", q)
	case <-closing:
		return nil
	}
}

// drain stops consuming, lets the workers finish what they hold (unless
// abort is closed first) and closes the connection.
func (ss *serverSession) drain(abort <-chan struct{}) {
	ss.draining.Store(true)
	for _, c := range ss.consumers {
		// After basic.cancel-ok amqp091-go delivers what it has buffered,
		// then closes the deliveries channel: the workers serve the rest.
		_ = ss.consuming.Cancel(c.tag, false)
	}
	done := make(chan struct{})
	go func() {
		ss.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-abort:
	}
	ss.stop()
	<-done
}

// stop ends the session at once: handlers are cancelled and the connection
// closed, which makes the broker requeue the requests not yet acked.
func (ss *serverSession) stop() {
	ss.draining.Store(true)
	ss.cancel()
	_ = ss.conn.CloseDeadline(time.Now().Add(5 * time.Second))
	ss.workers.Wait()
}

func (s *Server) supervise(url string, ss *serverSession) {
	defer close(s.stopped)
	retries := 0
	for {
		started := time.Now()
		reason := ss.wait(s.closing)
		if reason == nil {
			select {
			case <-s.abort:
				ss.stop()
			default:
				ss.drain(s.abort)
			}
			return
		}
		s.cfg.logger.Warn("amqptransport: server lost its connection; reconnecting", "error", reason)
		ss.stop()
		if time.Since(started) > healthyAfter {
			retries = 0
		}
		for {
			if retries > 0 && !sleep(backoffDelay(s.cfg.backoff, retries-1), s.closing) {
				return
			}
			retries++
			next, err := s.connect(url)
			if err == nil {
				ss = next
				break
			}
			select {
			case <-s.closing:
				return
			default:
			}
			s.cfg.logger.Warn("amqptransport: server reconnect failed", "error", err, "attempt", retries)
		}
	}
}
