package amqptransport

import (
	amqp "github.com/rabbitmq/amqp091-go"
)

// cancelExchange is the durable direct exchange through which a client
// tells servers that a call was cancelled. Servers declare it and bind a
// queue of their own to it for each request queue they serve
// (docs/amqp-protocol.md, "Cancellation").
const cancelExchange = "svcclient.cancel"

// cancelNotices bounds the cancel notices waiting to be published on a
// session. A notice is a courtesy to the server (the call has ended
// already), so one that finds the queue full is dropped rather than make
// the cancelled caller wait.
const cancelNotices = 256

// cancelNotice asks the servers of a request queue to cancel one call.
type cancelNotice struct {
	routingKey    string // the request's routing key: its queue, by default
	correlationID string
}

// cancelLater queues a cancel notice for the call with correlationID,
// whose request went out with routingKey. It never blocks.
func (s *session) cancelLater(routingKey, correlationID string) {
	select {
	case s.cancels <- cancelNotice{routingKey: routingKey, correlationID: correlationID}:
	default:
	}
}

// sendCancels publishes the session's cancel notices, on a channel of their
// own. The exchange is not declared, passively or otherwise: it exists once
// any server has run in the vhost, and if it does not, no server could act
// on the notice anyway. The broker then closes that channel (404), which
// fails no call; the next notice opens another. Notices are published
// without mandatory: a notice no server's queue is bound for is dropped.
func (s *session) sendCancels() {
	defer s.wg.Done()
	var ch *amqp.Channel
	for {
		select {
		case n := <-s.cancels:
			if ch == nil || ch.IsClosed() {
				var err error
				if ch, err = s.conn.Channel(); err != nil {
					ch = nil
					continue
				}
			}
			_ = ch.Publish(cancelExchange, n.routingKey, false, false, amqp.Publishing{
				CorrelationId: n.correlationID,
				Type:          "cancel",
			})
		case <-s.ended:
			return
		}
	}
}
