package amqptransport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// DefaultPresenceTTL is how long a client trusts that a request queue has a
// consumer before it asks the broker again; see [WithPresenceTTL].
const DefaultPresenceTTL = time.Second

// presence answers, before a call is published, whether any server consumes
// the request queue, so that a call nobody can answer fails at once with
// Unavailable instead of waiting in a durable queue for its deadline.
//
// It asks the broker with a passive queue.declare, whose reply carries the
// queue's consumer_count, on a channel of its own: a 404 (no such queue)
// closes that channel and no other. An answer "has consumers" is trusted
// for the TTL; "no consumers" and "no queue" are never cached, so that a
// server that starts is seen by the next call. Concurrent calls for one
// queue share one probe.
//
// A call that finds a fresh answer takes no lock: a sync.Map load and an
// atomic read, so that 64 calls in flight do not queue on one more mutex
// beside the pending table's. The probe itself, one round trip, is paid
// once per queue per TTL by the call that finds the answer stale.
type presence struct {
	s   *session
	ttl time.Duration

	// until maps a queue to *atomic.Int64: the Unix time in nanoseconds
	// until which it is trusted to have consumers (0: not trusted).
	until sync.Map

	mu      sync.Mutex
	ch      *amqp.Channel             // the probe channel; nil until opened, or after it closed
	flights map[string]*presenceProbe // queue → the probe in progress
}

// presenceProbe is one passive declare that several calls may wait on.
type presenceProbe struct {
	done chan struct{}
	err  error // nil: the queue has consumers
}

func newPresence(s *session, ttl time.Duration) *presence {
	return &presence{s: s, ttl: ttl, flights: make(map[string]*presenceProbe)}
}

// check returns nil if queue has a consumer, or the call's error: a
// NotSent Unavailable when it has none or does not exist, the context's
// error if ctx ends first.
func (p *presence) check(ctx context.Context, queue string) error {
	if until, ok := p.until.Load(queue); ok && time.Now().UnixNano() < until.(*atomic.Int64).Load() {
		return nil
	}
	p.mu.Lock()
	f := p.flights[queue]
	if f == nil {
		f = &presenceProbe{done: make(chan struct{})}
		p.flights[queue] = f
		p.mu.Unlock()
		// The probe runs apart from the call, so that a caller whose
		// context ends does not abandon the others waiting on it. It is not
		// one of the session's goroutines (s.wg): it may start while the
		// session shuts down, and it ends with the connection at the latest,
		// since every channel RPC returns when the connection closes.
		go p.probe(queue, f)
	} else {
		p.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return transport.ContextError(ctx)
	}
}

// probe asks the broker for queue's consumer count and settles f.
func (p *presence) probe(queue string, f *presenceProbe) {
	present, err := p.declarePassive(queue)
	v, _ := p.until.LoadOrStore(queue, new(atomic.Int64))
	if present {
		v.(*atomic.Int64).Store(time.Now().Add(p.ttl).UnixNano())
	} else {
		v.(*atomic.Int64).Store(0)
	}
	p.mu.Lock()
	delete(p.flights, queue)
	p.mu.Unlock()
	f.err = err
	close(f.done)
}

// declarePassive reports whether queue has consumers, and the error a call
// to it fails with when it has none. Errors other than "no such queue"
// (403 from a broker that refuses the probe, a closed connection) count as
// present: the call is published as it would be without the probe, and
// the mandatory flag, the channel or the deadline report what is wrong.
func (p *presence) declarePassive(queue string) (bool, error) {
	ch, err := p.channel()
	if err != nil {
		return true, nil
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	var amqpErr *amqp.Error
	switch {
	case err == nil && q.Consumers > 0:
		return true, nil
	case err == nil:
		return false, transport.NotSent(status.Errorf(codes.Unavailable,
			"amqptransport: no server consumes queue %q (it has no consumer): is a server for it running?", queue))
	case errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound:
		p.dropChannel(ch) // the broker closed it
		return false, transport.NotSent(status.Errorf(codes.Unavailable,
			"amqptransport: no queue %q: no server for it has run: is one running?", queue))
	default:
		p.dropChannel(ch)
		return true, nil
	}
}

// channel returns the probe channel, opening it if needed. Probes are
// serialised by the channel itself (one RPC at a time).
func (p *presence) channel() (*amqp.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	ch, err := p.s.conn.Channel()
	if err != nil {
		return nil, err
	}
	p.ch = ch
	return ch, nil
}

// dropChannel forgets ch, so that the next probe opens a new channel.
func (p *presence) dropChannel(ch *amqp.Channel) {
	p.mu.Lock()
	if p.ch == ch {
		p.ch = nil
	}
	p.mu.Unlock()
	_ = ch.Close()
}
