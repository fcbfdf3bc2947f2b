package amqptransport

import (
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxSettledAhead bounds how many settled delivery tags an ackTracker keeps
// above the lowest unsettled one. A request whose handler runs long holds
// that lowest tag; past the bound the tracker stops batching for the rest
// of the session rather than grow (see ackTracker).
const maxSettledAhead = 4096

// ackTracker lets a server session ack runs of requests with one
// basic.ack (multiple=true) instead of one frame each.
//
// An ack with multiple=true settles every unacked delivery up to its tag
// on the channel, so it may only be sent for a tag below which every
// delivery is settled or being acked by it. The tracker knows that
// because delivery tags on a channel are 1, 2, 3, ... in delivery order,
// and every delivery on the consuming channel is settled through it:
// requests acked one by one report themselves with settled after their
// ack is written, the cancel listener's auto-acked deliveries on arrival,
// and the acker's confirmed replies go through plan.
//
// Writing before reporting is what makes it safe: a tag reported settled
// has its ack frame already written on the channel, and amqp091-go writes
// a channel's frames in order, so a later multiple ack never reaches the
// broker before it (which would make the broker close the channel for an
// unknown delivery tag).
//
// Measured in bench/'s BenchmarkAMQP at 64 calls in flight: confirms come
// back in runs, and the acker acks each run with one frame; see
// BENCHMARKS.md for the figures.
type ackTracker struct {
	mu       sync.Mutex
	next     uint64              // the lowest tag not known to be settled
	settled  map[uint64]struct{} // settled tags above next
	disabled bool                // too many settled tags held above next
}

func newAckTracker() *ackTracker {
	return &ackTracker{next: 1, settled: make(map[uint64]struct{})}
}

// settle records that tag's ack has been written (or that it needs none).
func (t *ackTracker) settle(tag uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.disabled || tag < t.next {
		return
	}
	t.settled[tag] = struct{}{}
	t.advance(nil)
	if len(t.settled) > maxSettledAhead {
		t.disable()
	}
}

// plan takes the tags of requests ready to be acked, and returns the tag
// to ack with multiple=true (0 for none), which covers some of them, and
// the others, to be acked one by one and then reported with settle. It
// sorts tags in place; single is a part of it.
func (t *ackTracker) plan(tags []uint64) (multiple uint64, single []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.disabled {
		return 0, tags
	}
	slices.Sort(tags)
	return t.advance(tags)
}

// advance moves next past the settled tags and the ready ones (sorted) it
// finds in a row, and returns the highest ready tag it passed (0 if none)
// and the ready tags it did not reach. A ready tag below next cannot
// occur (a tag is settled once); if it did, no ready tag is passed and
// all are left to be acked one by one.
func (t *ackTracker) advance(ready []uint64) (highestReady uint64, rest []uint64) {
	for {
		if _, ok := t.settled[t.next]; ok {
			delete(t.settled, t.next)
		} else if len(ready) > 0 && ready[0] == t.next {
			highestReady, ready = t.next, ready[1:]
		} else {
			return highestReady, ready
		}
		t.next++
	}
}

// disable stops batching for good: every ack is single from now on, which
// needs no record of settled tags.
func (t *ackTracker) disable() {
	t.disabled = true
	t.settled = nil
}

// unconfirmedReply is a reply sent by a worker, waiting for the broker's
// confirm before its request is acked.
type unconfirmedReply struct {
	r        *registration
	d        amqp.Delivery
	reply    amqp.Publishing
	deadline time.Time
	dc       *amqp.DeferredConfirmation
}

// acker is a session's one goroutine that acks requests once their
// replies are confirmed, taking them from the unconfirmed queue in the
// order the workers sent them, which is about the order the broker
// confirms them in. It waits for the oldest reply's confirm, then
// acks it with the replies queued behind it whose confirms are in too
// (confirms come back in runs), and sends those the broker refused (a
// nack, or the channel closed) the long way, each in a goroutine of its
// own, so that they hold up no other. One goroutine for all replies, as a
// raw amqp091-go loop would do it (bench/'s raw-amqp091-confirmed rows),
// rather than one started per reply. It allocates nothing per reply. It
// runs until ackerQuit is closed, which stop does once no worker and no
// reply is left.
//
// Tried and left out: workers acking the confirmed requests queued before
// their own reply right after sending it, so that at one request at a
// time an ack does not leave just as the next request arrives; the p50 at
// 1 in flight did not move beyond the rounds' spread (BENCHMARKS.md).
func (ss *serverSession) acker() {
	var (
		head    unconfirmedReply // taken from the queue, not yet acked, if holding
		holding bool
		tags    []uint64
	)
	for {
		if !holding {
			select {
			case head = <-ss.unconfirmed:
				holding = true
			case <-ss.ackerQuit:
				return
			}
		}
		<-head.dc.Done() // a confirm, a nack or the channel's close: each ends it
		tags = tags[:0]
		for holding && confirmed(head.dc) {
			if head.dc.Acked() {
				tags = append(tags, head.d.DeliveryTag)
			} else {
				go ss.reply(head.r, head.d, head.reply, head.deadline)
			}
			select {
			case head = <-ss.unconfirmed:
			default:
				holding = false
			}
		}
		ss.ackTags(tags)
	}
}

// confirmed reports whether the broker has answered dc (ack or nack), or
// its channel closed, without waiting.
func confirmed(dc *amqp.DeferredConfirmation) bool {
	select {
	case <-dc.Done():
		return true
	default:
		return false
	}
}

// ackTags acks the requests whose delivery tags are given, whose replies
// are confirmed: with one basic.ack for those the ackTracker allows, one
// each for the others. Only the acker calls it: ackTracker.plan hands out
// multiple-acks that must reach the channel in the order it planned them.
func (ss *serverSession) ackTags(tags []uint64) {
	if len(tags) == 0 {
		return
	}
	multiple, single := ss.acks.plan(tags)
	if multiple > 0 {
		_ = ss.consuming.Ack(multiple, true)
	}
	for _, tag := range single {
		_ = ss.consuming.Ack(tag, false)
		ss.acks.settle(tag)
	}
	ss.workers.Add(-len(tags))
}
