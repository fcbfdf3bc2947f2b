package amqptransport

import (
	amqp "github.com/rabbitmq/amqp091-go"
)

// InjectBlocked hands c's current session a connection.blocked
// notification (active) or connection.unblocked (not active), through the
// channel amqp091-go delivers the broker's own to. The tests cannot raise
// a real resource alarm: it would block every user of the shared broker.
func InjectBlocked(c *Conn, active bool, reason string) bool {
	s := c.sess.Load()
	if s == nil {
		return false
	}
	s.blocks <- amqp.Blocking{Active: active, Reason: reason}
	return true
}
