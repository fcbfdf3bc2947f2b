package amqptransport

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// Conn is the client half of the transport: a [grpc.ClientConnInterface] that publishes
// each call's request and waits for the correlated reply, over one AMQP
// connection shared by every call. It reconnects on its own when the
// connection is lost. A Conn is safe for concurrent use; Close releases it.
type Conn struct {
	cfg clientConfig
	// urls are the nodes to connect to: Dial's URL first, then
	// WithNodes's. node is the index of the one connected to, or tried
	// last; only the supervising goroutine changes it after Dial.
	urls        []string
	node        int
	contentType string
	codecs      codecSet
	// secure is true when every node's URL is amqps://, where
	// grpc.PerRPCCredentials that require transport security may be sent;
	// audience is the first node's scheme://host:port, for their
	// GetRequestMetadata.
	secure   bool
	audience string

	// idPrefix starts every correlation_id of this Conn: 128 random bits
	// (22 characters of unpadded base64url) and a dot, so that ids are
	// unique across clients (servers find a call to cancel by its id); seq
	// numbers the calls after it, in base 36. The id stays within 32 bytes
	// for the first 36⁹ (10¹⁴) calls: longer shortstrs cost amqp091-go an
	// allocation each time it reads one (Go allocates byte slices of up to
	// 32 bytes on the stack), which bench/'s BenchmarkAMQP showed as 3
	// more allocations per call with a 32-digit hex prefix.
	idPrefix string
	seq      atomic.Uint64
	sess     atomic.Pointer[session] // nil while disconnected

	mu      sync.Mutex
	ready   chan struct{} // closed once a session is up; replaced when it is lost
	lastErr error         // why the last session ended or the last dial failed
	closed  bool

	closing     chan struct{}
	closeOnce   sync.Once
	supervisor  chan struct{} // closed when the supervising goroutine has returned
	dialContext context.Context
	cancelDial  context.CancelFunc

	// bufs holds request buffers (*[]byte) for reuse: Publish has copied
	// the body into frames by the time it returns. It stays for large
	// requests: in bench/'s BenchmarkAMQP a 16 KiB call allocates 121.1 KB
	// with it and 137.4 KB without (-12%); at 100 B, 7.10 KB and 7.21 KB.
	// Calls/s did not differ beyond the spread of runs on two cores.
	bufs sync.Pool
}

var _ grpc.ClientConnInterface = (*Conn)(nil)

// Dial connects to the broker at url (amqp:// or amqps://) and returns a
// Conn. It fails if that first connection fails, so that a wrong URL or
// credentials show at once; after that the Conn reconnects by itself.
// With [WithNodes], url is the first node of a cluster: Dial tries the
// nodes in order and fails only if none answers, and the Conn moves to the
// next node whenever it loses its connection.
//
// Each call is published to the default exchange with the service's
// fully-qualified name as routing key (see [WithRouting]), with
// mandatory set, and its reply comes back by Direct Reply-to (see
// [WithPrivateReplyQueue]). docs/amqp-protocol.md is the wire contract.
func Dial(url string, opts ...ClientOption) (*Conn, error) {
	cfg := clientConfig{
		commonConfig: defaultCommon(),
		codec:        runtime.ProtoCodec{},
		isolateAbove: DefaultIsolationThreshold,
		presenceTTL:  DefaultPresenceTTL,
	}
	for _, o := range opts {
		o.applyToClient(&cfg)
	}
	if len(cfg.nodes) > 0 {
		// On a cluster, a Direct Reply-to reply can be lost after the
		// broker confirmed it: it is confirmed by the node the server
		// publishes on and handed on to the client's node, and a node
		// killed in between loses it (0-4 calls per run ended at their
		// deadline in TestClusterQuorumFaults). A private reply queue is
		// a real queue, confirmed once it holds the reply: 0 lost in the
		// same test. See WithNodes.
		cfg.privateReply = true
	}
	urls := append([]string{url}, cfg.nodes...)
	secure := true
	var audience string
	for i, u := range urls {
		uri, err := amqp.ParseURI(u)
		if err != nil {
			return nil, fmt.Errorf("amqptransport: node %d: %w", i, err)
		}
		secure = secure && uri.Scheme == "amqps"
		if i == 0 {
			audience = uri.Scheme + "://" + net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))
		}
	}
	idPrefix, err := newClientID()
	if err != nil {
		return nil, fmt.Errorf("amqptransport: %w", err)
	}
	c := &Conn{
		secure:      secure,
		audience:    audience,
		cfg:         cfg,
		urls:        urls,
		idPrefix:    idPrefix,
		contentType: contentType(cfg.codec),
		codecs:      defaultCodecs(),
		ready:       make(chan struct{}),
		closing:     make(chan struct{}),
		supervisor:  make(chan struct{}),
	}
	c.codecs.set(cfg.codec)
	c.dialContext, c.cancelDial = context.WithCancel(context.Background())
	var s *session
	for i := range c.urls {
		c.node = i
		if s, err = c.connect(); err == nil {
			break
		}
		if len(c.urls) > 1 {
			err = fmt.Errorf("node %d of %d: %w", i, len(c.urls), err)
		}
	}
	if err != nil {
		c.cancelDial()
		return nil, fmt.Errorf("amqptransport: %w", err)
	}
	c.sess.Store(s)
	close(c.ready)
	go c.supervise(s)
	return c, nil
}

// newClientID returns a Conn's correlation_id prefix: 128 random bits.
func newClientID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a client id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]) + ".", nil
}

// correlationID returns the correlation_id of call number id.
func (c *Conn) correlationID(id uint64) string {
	var buf [48]byte
	return string(strconv.AppendUint(append(buf[:0], c.idPrefix...), id, 36))
}

// session is one AMQP connection of a Conn and what was built on it.
type session struct {
	c       *Conn
	conn    *amqp.Connection
	replyTo string
	pending pendingTable

	presence *presence         // nil when WithPresenceTTL turned probes off
	cancels  chan cancelNotice // for sendCancels

	sharedMu sync.Mutex
	shared   atomic.Pointer[lane]
	idle     chan *lane // isolated lanes ready for another call

	closes  chan *amqp.Error   // the connection's NotifyClose
	blocks  chan amqp.Blocking // the connection's NotifyBlocked
	blocked atomic.Pointer[string]

	// toClose holds lanes to close; the closer goroutine closes them, since
	// closing is a round trip no caller should wait for.
	closeMu sync.Mutex
	toClose []*lane
	wake    chan struct{}
	ended   chan struct{} // closed when the connection is gone

	wg sync.WaitGroup // the session's goroutines
}

// maxIdleIsolated bounds the isolated lanes kept open between calls.
const maxIdleIsolated = 8

// connect dials node c.node and builds a session: the shared lane and, for
// a private reply queue, the queue and its consumer.
func (c *Conn) connect() (*session, error) {
	cfg := c.cfg.dialConfig("svcclient amqptransport client")
	if cfg.Dial == nil {
		cfg.Dial = contextDialer(c.dialContext)
	}
	conn, err := amqp.DialConfig(c.urls[c.node], cfg)
	if err != nil {
		return nil, err
	}
	s := &session{
		c:       c,
		conn:    conn,
		cancels: make(chan cancelNotice, cancelNotices),
		idle:    make(chan *lane, maxIdleIsolated),
		closes:  conn.NotifyClose(make(chan *amqp.Error, 1)),
		blocks:  conn.NotifyBlocked(make(chan amqp.Blocking, 4)),
		wake:    make(chan struct{}, 1),
		ended:   make(chan struct{}),
	}
	if c.cfg.presenceTTL >= 0 {
		s.presence = newPresence(s, c.cfg.presenceTTL)
	}
	s.pending.init()
	s.wg.Add(2)
	go s.closer()
	go s.sendCancels()
	fail := func(err error) (*session, error) {
		_ = conn.Close()
		close(s.ended)
		s.wg.Wait()
		return nil, err
	}
	s.replyTo = DirectReplyTo
	if c.cfg.privateReply {
		l, err := s.openLane(false, false)
		if err != nil {
			return fail(err)
		}
		q, err := l.ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			return fail(fmt.Errorf("declaring the reply queue: %w", err))
		}
		deliveries, err := l.ch.Consume(q.Name, "", true, true, false, false, nil)
		if err != nil {
			return fail(fmt.Errorf("consuming the reply queue: %w", err))
		}
		// Without its consumer the session cannot get replies: end it, so
		// the supervisor reconnects and declares a new queue.
		l.onDeath = func() { _ = conn.CloseDeadline(time.Now().Add(time.Second)) }
		s.wg.Add(1)
		go s.consumeReplies(l, deliveries)
		s.replyTo = q.Name
	}
	shared, err := s.openLane(false, !c.cfg.privateReply)
	if err != nil {
		return fail(err)
	}
	s.shared.Store(shared)
	return s, nil
}

// consumeReplies hands the private reply queue's deliveries to their calls.
func (s *session) consumeReplies(l *lane, deliveries <-chan amqp.Delivery) {
	defer s.wg.Done()
	for d := range deliveries {
		s.deliver(d)
	}
	if !l.ch.IsClosed() {
		s.closeLater(l) // cancelled by the broker: the queue was deleted
	}
}

// contextDialer is amqp091-go's DefaultDial, except that closing the Conn
// abandons a dial in progress.
func contextDialer(ctx context.Context) func(network, addr string) (net.Conn, error) {
	const timeout = 30 * time.Second
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Cleared by amqp091-go once the AMQP handshake is done.
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// sharedLane returns the shared lane, reopening it if the broker closed it.
func (s *session) sharedLane() (*lane, error) {
	if l := s.shared.Load(); l != nil && !l.dead.Load() {
		return l, nil
	}
	s.sharedMu.Lock()
	defer s.sharedMu.Unlock()
	if l := s.shared.Load(); l != nil && !l.dead.Load() {
		return l, nil
	}
	l, err := s.openLane(false, !s.c.cfg.privateReply)
	if err != nil {
		return nil, transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: opening a channel: %v", err))
	}
	s.shared.Store(l)
	return l, nil
}

// isolatedLane returns a lane for one call.
func (s *session) isolatedLane() (*lane, error) {
	for {
		select {
		case l := <-s.idle:
			if l.dead.Load() {
				continue
			}
			return l, nil
		default:
		}
		l, err := s.openLane(true, !s.c.cfg.privateReply)
		if err != nil {
			return nil, transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: opening a channel: %v", err))
		}
		return l, nil
	}
}

// releaseIsolated returns a lane whose call got its reply, or its return,
// to the pool: nothing more can arrive on it for that call.
func (s *session) releaseIsolated(l *lane) {
	if l.dead.Load() {
		return
	}
	select {
	case s.idle <- l:
	default:
		s.closeLater(l)
	}
}

// closeLater queues a lane to be closed by the closer goroutine.
func (s *session) closeLater(l *lane) {
	s.closeMu.Lock()
	s.toClose = append(s.toClose, l)
	s.closeMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) closer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.wake:
		case <-s.ended:
			// Lanes die with the connection; nothing is left to close.
			return
		}
		s.closeMu.Lock()
		lanes := s.toClose
		s.toClose = nil
		s.closeMu.Unlock()
		for _, l := range lanes {
			_ = l.ch.Close()
		}
	}
}

// laneError is the status for the calls of a lane that ended.
func (s *session) laneError(cause *amqp.Error, isolated bool) error {
	if s.c.isClosed() {
		return errConnClosed
	}
	connLost := s.conn.IsClosed()
	if cause == nil && !connLost {
		// We closed it: an isolated lane abandoned by its call, or one
		// whose reply consumer the broker cancelled.
		return status.Error(codes.Unavailable, "amqptransport: request channel closed")
	}
	return channelError(cause, connLost, isolated)
}

// wait blocks until the session's connection is lost (returning why) or
// closing is closed (returning nil), draining NotifyBlocked meanwhile.
func (s *session) wait(closing <-chan struct{}) error {
	for {
		select {
		case e, ok := <-s.closes:
			if !ok || e == nil {
				return errors.New("connection closed")
			}
			return e
		case b, ok := <-s.blocks:
			if !ok {
				s.blocks = nil
				continue
			}
			if b.Active {
				reason := b.Reason
				s.blocked.Store(&reason)
			} else {
				s.blocked.Store(nil)
			}
		case <-closing:
			return nil
		}
	}
}

// shutdown closes the connection and waits for the session's goroutines.
func (s *session) shutdown() {
	_ = s.conn.CloseDeadline(time.Now().Add(5 * time.Second))
	close(s.ended)
	s.wg.Wait()
}

// supervise watches the current session and replaces it when it is lost.
func (c *Conn) supervise(s *session) {
	defer close(c.supervisor)
	retries := 0
	for {
		started := time.Now()
		lost := s.wait(c.closing)
		c.mu.Lock()
		c.sess.Store(nil)
		c.ready = make(chan struct{})
		if lost != nil {
			c.lastErr = lost
		}
		c.mu.Unlock()
		s.shutdown()
		if lost == nil {
			return // closing
		}
		if time.Since(started) > healthyAfter {
			retries = 0
		}
		for attempt := 0; ; attempt++ {
			// Each round tries every node once, starting with the one
			// after the node that was lost: a node that went down is the
			// last one to try again. Only rounds wait, not the attempts
			// within one, so moving to another live node of a cluster
			// costs no delay.
			if attempt%len(c.urls) == 0 {
				// The first round after a healthy connection is immediate.
				if retries > 0 && !sleep(backoffDelay(c.cfg.backoff, retries-1), c.closing) {
					return
				}
				retries++
			}
			c.node = (c.node + 1) % len(c.urls)
			next, err := c.connect()
			if err == nil {
				s = next
				break
			}
			if c.isClosed() {
				return
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			s.shutdown()
			return
		}
		c.sess.Store(s)
		close(c.ready)
		c.mu.Unlock()
	}
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close closes the connection and stops reconnecting. Calls in flight fail
// with Canceled, as on a closing grpc.ClientConn; so do later ones. Close
// returns once every goroutine of the Conn has ended.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.closing)
		c.cancelDial()
	})
	<-c.supervisor
	return nil
}

// session returns the live session. Without one, a call fails at once with
// Unavailable, unless it was made with grpc.WaitForReady(true): then it
// waits for the reconnect, as on grpc-go.
func (c *Conn) session(ctx context.Context, waitForReady bool) (*session, error) {
	for {
		if s := c.sess.Load(); s != nil {
			return s, nil
		}
		c.mu.Lock()
		ready, lastErr, closed := c.ready, c.lastErr, c.closed
		c.mu.Unlock()
		if closed {
			return nil, errConnClosed
		}
		if s := c.sess.Load(); s != nil {
			return s, nil
		}
		if !waitForReady {
			return nil, transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: not connected to the broker (reconnecting): %v", lastErr))
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, transport.ContextError(ctx)
		case <-c.closing:
			return nil, errConnClosed
		}
	}
}

// waitForReady reads grpc.WaitForReady from a call's options.
func waitForReady(opts []grpc.CallOption) bool {
	wfr := false
	for _, o := range opts {
		if o, ok := o.(grpc.FailFastCallOption); ok {
			wfr = !o.FailFast
		}
	}
	return wfr
}

// NewStream fails with Unimplemented: AMQP request/reply carries unary
// calls only. Use gRPC, HTTP or the in-process
// transport for streaming methods; a fallback connection can route them.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	err := transport.NotSent(status.Errorf(codes.Unimplemented, errStreaming, method, transport.KindOf(desc)))
	ci := transport.ReadCallOptions(opts)
	ci.Finish(Name, nil, nil, err)
	return nil, err
}
