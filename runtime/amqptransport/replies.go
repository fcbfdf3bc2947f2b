package amqptransport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// largeReplyChannels is how many channels a server session keeps for
// replies above DefaultIsolationThreshold. Each carries one reply at a
// time; workers with a large reply to send take turns on them. Publishing
// is bounded by the one socket they all write to, so a few are enough to
// keep it busy.
const largeReplyChannels = 4

// serverChannelLimit is the most channels a server has open on its two
// connections while it serves: the consuming channel on one, the shared
// reply channel and the large-reply channels on the other. While it
// connects, it opens one more at a time to declare each queue, and closes
// it.
const serverChannelLimit = 2 + largeReplyChannels

// replyChannels are the channels a server session publishes replies on.
//
// Small replies share one channel. amqp091-go channels are safe for
// concurrent use, and one channel for all workers is what lets a server
// keep up with a raw Direct Reply-to loop: with a channel per worker the
// broker spreads the replies over as many channel processes, which cost
// about a fifth of the throughput at 64 requests in flight (see
// BENCHMARKS.md).
//
// A reply larger than DefaultIsolationThreshold is the kind the broker may
// refuse by closing the channel it came on (a 406 for its size). It goes
// on one of a few channels that carry one reply at a time, so that a
// refusal closes no channel the small replies travel on.
type replyChannels struct {
	conn *amqp.Connection

	mu     sync.Mutex
	shared *amqp.Channel

	// large holds the large-reply channels not in use: a nil stands for
	// one not opened yet, or closed. Its capacity is their number.
	large chan *amqp.Channel
}

func newReplyChannels(conn *amqp.Connection) *replyChannels {
	rc := &replyChannels{conn: conn, large: make(chan *amqp.Channel, largeReplyChannels)}
	for i := 0; i < largeReplyChannels; i++ {
		rc.large <- nil
	}
	return rc
}

// publish sends a reply to the queue key. A channel found closed under the
// publish (the broker refused an earlier reply on it) is replaced once.
func (rc *replyChannels) publish(key string, pub amqp.Publishing) error {
	large := len(pub.Body) > DefaultIsolationThreshold
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if large {
			err = rc.publishLarge(key, pub)
		} else {
			err = rc.publishShared(key, pub)
		}
		if err == nil || !errors.Is(err, amqp.ErrClosed) {
			return err
		}
	}
	return err
}

func (rc *replyChannels) publishShared(key string, pub amqp.Publishing) error {
	ch, err := rc.sharedChannel()
	if err != nil {
		return err
	}
	return publishConfirmed(ch, key, pub)
}

// publishConfirmed publishes a reply on ch, a channel in confirm mode, and
// waits for the broker to confirm it. The request is acked only after
// that: a publish returns once its frames are written to the socket, and a
// node that dies then loses the reply while the request's ack, on the
// consuming connection and maybe another node, still goes through. The
// caller would wait for its deadline (TestClusterQuorumFaults saw it when
// the node of the publishing connection was killed). Unconfirmed because
// the channel closed, it returns amqp.ErrClosed, so that the reply is
// published again on a new channel or connection.
//
// The wait is off the caller's path: the reply is routed before the
// broker confirms it; only the server's ack, and so its prefetch, waits.
func publishConfirmed(ch *amqp.Channel, key string, pub amqp.Publishing) error {
	// Not mandatory: a reply nobody waits for any more is dropped.
	dc, err := ch.PublishWithDeferredConfirm("", key, false, false, pub)
	if err != nil {
		return err
	}
	if dc.Wait() {
		return nil
	}
	if ch.IsClosed() {
		return amqp.ErrClosed
	}
	return errors.New("the broker refused the reply (basic.nack)")
}

// openReplyChannel opens a channel in confirm mode.
func openReplyChannel(conn *amqp.Connection) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return ch, nil
}

// sharedChannel returns the shared channel, opening a new one if the last
// was closed under it. The connection's close closes it.
func (rc *replyChannels) sharedChannel() (*amqp.Channel, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.shared == nil || rc.shared.IsClosed() {
		ch, err := openReplyChannel(rc.conn)
		if err != nil {
			return nil, err
		}
		rc.shared = ch
	}
	return rc.shared, nil
}

// publishLarge waits for a large-reply channel, publishes on it and gives
// it back. Waiting cannot last: a publish returns once the broker confirms
// it, or fails when the channel or the connection closes.
func (rc *replyChannels) publishLarge(key string, pub amqp.Publishing) error {
	ch := <-rc.large
	var err error
	if ch == nil || ch.IsClosed() {
		if ch, err = openReplyChannel(rc.conn); err != nil {
			rc.large <- nil
			return err
		}
	}
	err = publishConfirmed(ch, key, pub)
	rc.large <- ch
	return err
}

// replyPublisher is a server's publishing connection, apart from the one it
// consumes on (RabbitMQ's advice): a publisher the broker blocks for a
// resource alarm (connection.blocked) then stalls only the replies, not the
// deliveries and acks of the consuming connection. It reconnects on its
// own, so that a reply whose publish failed with the connection is
// published again on the next one while the request stays unacked.
type replyPublisher struct {
	srv   *Server
	nodes *nodeRing

	mu      sync.Mutex
	cur     *replyChannels // nil while reconnecting
	changed chan struct{}  // closed, and replaced, when cur changes

	// blocked is true while the broker blocks the publishing connection;
	// send then leaves replies to publish, off the workers.
	blocked atomic.Bool

	quit chan struct{} // closed by stop
	done chan struct{} // closed when run has returned
}

// publisherName is the connection_name of a server's publishing connection,
// from that of its consuming connection.
func publisherName(consumerName string) string { return consumerName + " (replies)" }

// startPublisher dials the publishing connection and starts keeping it up.
func (s *Server) startPublisher(nodes *nodeRing) (*replyPublisher, error) {
	p := &replyPublisher{srv: s, nodes: nodes, changed: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	conn, closes, err := p.dial(len(nodes.urls))
	if err != nil {
		return nil, err
	}
	p.set(conn)
	go p.run(conn, closes)
	return p, nil
}

// dial tries up to attempts nodes, in turn, and returns the first
// connection made.
func (p *replyPublisher) dial(attempts int) (*amqp.Connection, chan *amqp.Error, error) {
	s := p.srv
	var err error
	for i := 0; i < attempts; i++ {
		cfg := s.cfg.dialConfig(serverConnectionName)
		name, _ := cfg.Properties["connection_name"].(string)
		cfg.Properties.SetClientConnectionName(publisherName(name))
		if cfg.Dial == nil {
			cfg.Dial = contextDialer(s.baseCtx)
		}
		var conn *amqp.Connection
		if conn, err = amqp.DialConfig(p.nodes.next(), cfg); err == nil {
			closes := conn.NotifyClose(make(chan *amqp.Error, 1))
			go p.watchBlocked(conn.NotifyBlocked(make(chan amqp.Blocking, 1)))
			return conn, closes, nil
		}
	}
	return nil, nil, err
}

// watchBlocked logs the broker blocking and unblocking the publishing
// connection (a memory or disk alarm). Replies wait meanwhile; requests
// keep arriving and stay unacked until their reply is published.
func (p *replyPublisher) watchBlocked(blocks <-chan amqp.Blocking) {
	for b := range blocks {
		p.blocked.Store(b.Active)
		if b.Active {
			p.srv.cfg.logger.Warn("amqptransport: the broker blocks the server's replies (resource alarm); they wait until it unblocks", "reason", b.Reason)
		} else {
			p.srv.cfg.logger.Info("amqptransport: the broker unblocked the server's replies")
		}
	}
}

func (p *replyPublisher) set(conn *amqp.Connection) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = nil
	if conn != nil {
		p.cur = newReplyChannels(conn)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// run reconnects the publishing connection each time it is lost, until
// stop.
func (p *replyPublisher) run(conn *amqp.Connection, closes chan *amqp.Error) {
	defer close(p.done)
	s := p.srv
	retries := 0
	for {
		up := time.Now()
		select {
		case <-p.quit:
			p.set(nil)
			_ = conn.CloseDeadline(time.Now().Add(5 * time.Second))
			return
		case e := <-closes:
			s.cfg.logger.Warn("amqptransport: server lost its reply connection; reconnecting", "error", e)
		}
		p.set(nil)
		if time.Since(up) > healthyAfter {
			retries = 0
		}
		for {
			if retries > 0 && !sleep(backoffDelay(s.cfg.backoff, retries-1), p.quit) {
				return
			}
			retries++
			var err error
			if conn, closes, err = p.dial(1); err == nil {
				p.set(conn)
				break
			}
			s.cfg.logger.Warn("amqptransport: server reply connection reconnect failed", "error", err, "attempt", retries)
		}
	}
}

// stop closes the publishing connection and waits for run to return.
func (p *replyPublisher) stop() {
	close(p.quit)
	<-p.done
}

// send is the fast path of a reply: it publishes a small reply on the
// shared channel of the current connection, in the caller's goroutine, and
// returns its pending confirmation. It returns nil, having sent nothing,
// when the reply must take publish's path instead: it is large, the
// connection is down or blocked, or the publish failed.
//
// A worker sends its reply itself rather than leave it to the goroutine
// that waits for the confirm, which takes a goroutine start and a hand-off
// off the caller's path: at 1 in flight the p50 went from 349 to 340 µs
// (bench/'s BenchmarkAMQP, 100 B, medians of 8 interleaved rounds; raw
// amqp091-go 1.14 → 1.13×). A send that blocks, the socket full, blocks
// one worker; the others serve on, and requests wait in the queue.
func (p *replyPublisher) send(key string, pub amqp.Publishing) *amqp.DeferredConfirmation {
	if len(pub.Body) > DefaultIsolationThreshold || p.blocked.Load() {
		return nil
	}
	p.mu.Lock()
	rc := p.cur
	p.mu.Unlock()
	if rc == nil {
		return nil
	}
	ch, err := rc.sharedChannel()
	if err != nil {
		return nil
	}
	// Not mandatory, as in publishConfirmed.
	dc, err := ch.PublishWithDeferredConfirm("", key, false, false, pub)
	if err != nil {
		return nil
	}
	return dc
}

// publish publishes a reply. When the publishing connection is down, or
// goes down under the publish, it waits for the next one and publishes
// again, until ctx ends.
func (p *replyPublisher) publish(ctx context.Context, key string, pub amqp.Publishing) error {
	for {
		p.mu.Lock()
		rc, changed := p.cur, p.changed
		p.mu.Unlock()
		if rc != nil {
			err := rc.publish(key, pub)
			if err == nil || !rc.conn.IsClosed() {
				return err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
