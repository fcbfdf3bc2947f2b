package amqptransport

import "sync"

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
// the others, to be acked one by one and then reported with settle.
func (t *ackTracker) plan(tags []uint64) (multiple uint64, single []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.disabled {
		return 0, tags
	}
	ready := make(map[uint64]struct{}, len(tags))
	for _, tag := range tags {
		if tag >= t.next {
			ready[tag] = struct{}{}
		}
	}
	multiple = t.advance(ready)
	for _, tag := range tags {
		if tag > multiple {
			single = append(single, tag)
		}
	}
	return multiple, single
}

// advance moves next past the settled and ready tags it finds in a row,
// and returns the highest ready tag it passed (0 if none).
func (t *ackTracker) advance(ready map[uint64]struct{}) (highestReady uint64) {
	for {
		if _, ok := t.settled[t.next]; ok {
			delete(t.settled, t.next)
		} else if _, ok := ready[t.next]; ok {
			highestReady = t.next
		} else {
			return highestReady
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
