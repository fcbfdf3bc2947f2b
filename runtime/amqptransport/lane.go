package amqptransport

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// A lane is one AMQP channel that carries requests, and its goroutine: the
// only reader of the channel's replies (Direct Reply-to deliveries), returns
// and close notification, so none of them is ever left undrained. The
// goroutine hands each reply to its call through the session's pending
// table, by correlation_id; calls never wait on the channel itself.
//
// A session has one shared lane that every ordinary call publishes on, as
// a hand-written Direct Reply-to loop would, and a pool of isolated lanes
// that carry one call at a time: requests to a non-default exchange and
// requests above the isolation threshold, the two kinds the broker may
// answer by closing the channel (404, 406). On an isolated lane such an
// error is the call's own; on the shared lane it would end every call in
// flight.
type lane struct {
	s        *session
	ch       *amqp.Channel
	isolated bool
	// dead is set, before the pending table is swept, once the channel has
	// closed; calls check it under the table's lock so none registers on a
	// lane after its sweep.
	dead atomic.Bool
	// onDeath, if set, runs when the lane ends (the private reply queue's
	// consumer: without it the session cannot get replies).
	onDeath func()
}

// openLane opens a channel and starts its goroutine. consume subscribes it
// to Direct Reply-to; private-queue clients publish on lanes that do not.
func (s *session) openLane(isolated, consume bool) (*lane, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, err
	}
	// Register before consuming, so that nothing the channel reports is missed.
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	returns := ch.NotifyReturn(make(chan amqp.Return, 16))
	var deliveries <-chan amqp.Delivery
	if consume {
		if deliveries, err = ch.Consume(DirectReplyTo, "", true, false, false, false, nil); err != nil {
			_ = ch.Close()
			return nil, err
		}
	}
	l := &lane{s: s, ch: ch, isolated: isolated}
	s.wg.Add(1)
	go l.run(deliveries, returns, closes, consume)
	return l, nil
}

func (l *lane) run(deliveries <-chan amqp.Delivery, returns <-chan amqp.Return, closes <-chan *amqp.Error, consuming bool) {
	defer l.s.wg.Done()
	var cause *amqp.Error
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				// The channel is closing, or the broker cancelled the
				// consumer (its queue was deleted): either way no reply can
				// come any more, so the lane must end. Closing the channel
				// is a round trip the reader goroutine must answer, and
				// this loop must keep draining meanwhile.
				deliveries = nil
				if consuming && !l.ch.IsClosed() {
					l.s.closeLater(l)
				}
				continue
			}
			l.s.deliver(d)
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			l.s.returned(r)
		case e, ok := <-closes:
			if ok {
				cause = e // the channel is closing; the list is closed next
				continue
			}
			l.dead.Store(true)
			l.s.pending.failLane(l, l.s.laneError(cause, l.isolated))
			if l.onDeath != nil {
				l.onDeath()
			}
			return
		}
	}
}

// result ends a call: a reply, or the error that replaced it.
type result struct {
	d   amqp.Delivery
	err error
}

// pendingCall is a call waiting for its reply. Each call allocates its
// own: a sync.Pool of them saved 0.4 KB and 3 of ~160 allocations per call
// (6.7 against 7.1 KB/op at 100 B in bench/'s BenchmarkAMQP) with no
// change in calls/s beyond the runs' spread, and it obliged every call to
// hand its pendingCall back with nothing more on its way to it.
type pendingCall struct {
	lane *lane
	done chan result // buffered: the sender never waits
}

// pendingTable maps correlation ids to waiting calls: one mutex, one map.
// It replaced 32 shards padded to separate cache lines, which no benchmark
// showed paying (two cores, five runs each): BenchmarkPendingTable
// (lane_test.go), an add and a take from every core, took 37-57 ns with
// this table and 56-93 ns sharded, beside a round trip through the broker
// of ~350 µs; bench/'s BenchmarkAMQP (medians of five interleaved runs,
// calls/s, sharded then plain) gave 2351 and 2361 at 100 B and one call
// in flight, 11646 and 11828 at 64, 1589 and 1452 at 16 KiB and one in
// flight, 4468 and 3816 at 64, where runs of one variant spread by ±40%.
type pendingTable struct {
	mu sync.Mutex
	m  map[uint64]*pendingCall
}

func (t *pendingTable) init() {
	t.m = make(map[uint64]*pendingCall)
}

// add registers a call; it fails if the call's lane has died.
func (t *pendingTable) add(id uint64, pc *pendingCall) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pc.lane.dead.Load() {
		return false
	}
	t.m[id] = pc
	return true
}

// take removes and returns the call with id, or nil if it has gone.
func (t *pendingTable) take(id uint64) *pendingCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	pc := t.m[id]
	if pc != nil {
		delete(t.m, id)
	}
	return pc
}

// failLane ends every call waiting on l with err (all calls, if l is nil).
func (t *pendingTable) failLane(l *lane, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, pc := range t.m {
		if l == nil || pc.lane == l {
			delete(t.m, id)
			pc.done <- result{err: err}
		}
	}
}

// deliver hands a reply to its call. Replies nobody waits for (the call was
// cancelled, or the correlation_id is not ours) are dropped quietly.
func (s *session) deliver(d amqp.Delivery) {
	id, ok := s.c.callID(d.CorrelationId)
	if !ok {
		return
	}
	if pc := s.pending.take(id); pc != nil {
		pc.done <- result{d: d}
	}
}

// returned fails the call whose request the broker could not route: no
// queue is bound for it, which means no server runs.
func (s *session) returned(r amqp.Return) {
	id, ok := s.c.callID(r.CorrelationId)
	if !ok {
		return
	}
	if pc := s.pending.take(id); pc != nil {
		pc.done <- result{err: transport.NotSent(status.Errorf(codes.Unavailable,
			"amqptransport: no queue for %s: the broker returned the request (%d %s): is a server for it running?",
			routeString(r.Exchange, r.RoutingKey), r.ReplyCode, r.ReplyText))}
	}
}

// callID returns the call number of one of c's correlation ids, and false
// for an id that is not c's.
func (c *Conn) callID(correlationID string) (uint64, bool) {
	n, ok := strings.CutPrefix(correlationID, c.idPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(n, 36, 64)
	return id, err == nil
}

func routeString(exchange, key string) string {
	if exchange == "" {
		return strconv.Quote(key)
	}
	return "routing key " + strconv.Quote(key) + " on exchange " + strconv.Quote(exchange)
}
