package amqptransport

import (
	"errors"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// largeReplyChannels is how many channels a server session keeps for
// replies above DefaultIsolationThreshold. Each carries one reply at a
// time; workers with a large reply to send take turns on them. Publishing
// is bounded by the one socket they all write to, so a few are enough to
// keep it busy.
const largeReplyChannels = 4

// serverChannelLimit is the most channels a server connection has open
// while it serves: the consuming channel, the shared reply channel and the
// large-reply channels. While it connects, it opens one more at a time to
// declare each queue, and closes it.
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
	// Not mandatory: a reply nobody waits for any more is dropped.
	return ch.Publish("", key, false, false, pub)
}

// sharedChannel returns the shared channel, opening a new one if the last
// was closed under it. The connection's close closes it.
func (rc *replyChannels) sharedChannel() (*amqp.Channel, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.shared == nil || rc.shared.IsClosed() {
		ch, err := rc.conn.Channel()
		if err != nil {
			return nil, err
		}
		rc.shared = ch
	}
	return rc.shared, nil
}

// publishLarge waits for a large-reply channel, publishes on it and gives
// it back. Waiting cannot last: a publish returns once its frames are
// written, or fails when the connection closes.
func (rc *replyChannels) publishLarge(key string, pub amqp.Publishing) error {
	ch := <-rc.large
	var err error
	if ch == nil || ch.IsClosed() {
		if ch, err = rc.conn.Channel(); err != nil {
			rc.large <- nil
			return err
		}
	}
	err = ch.Publish("", key, false, false, pub)
	rc.large <- ch
	return err
}
