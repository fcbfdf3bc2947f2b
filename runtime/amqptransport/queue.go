package amqptransport

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// requestQueueExpires is the request queue's x-expires, in milliseconds:
// 24 hours. A queue nobody consumes for that long is an abandoned service
// and the broker deletes it; no server comes back after a day and expects
// the requests of then to be waiting. Any shorter bound would risk
// deleting, with their requests, the queue of a service whose servers are
// redeploying.
const requestQueueExpires = 24 * 60 * 60 * 1000

// DefaultDeliveryLimit is the x-delivery-limit of a quorum request queue
// (see WithQuorumQueue): how many times a request may be delivered again,
// after servers died handling it, before it is answered ABORTED.
const DefaultDeliveryLimit = 5

// Argument and header names of RabbitMQ's queue arguments.
const (
	argExpires       = "x-expires"
	argQueueType     = "x-queue-type"
	argDeliveryLimit = "x-delivery-limit"
	hdrDeliveryCount = "x-delivery-count"
)

// requestQueueArgs returns the arguments of a request queue declaration:
// docs/amqp-protocol.md section 1. Every declarer (Go or not) must send the
// same, or RabbitMQ refuses the later declarations with 406.
func requestQueueArgs(cfg *serverConfig) amqp.Table {
	args := amqp.Table{argExpires: int32(requestQueueExpires)}
	if cfg.quorum {
		args[argQueueType] = "quorum"
		args[argDeliveryLimit] = int32(cfg.deliveryLimit)
	}
	return args
}

// declareRequestQueue declares queue as docs/amqp-protocol.md section 1
// says: durable, not auto-delete, not exclusive, with requestQueueArgs.
func declareRequestQueue(ch *amqp.Channel, queue string, cfg *serverConfig) error {
	args := requestQueueArgs(cfg)
	_, err := ch.QueueDeclare(queue, true, false, false, false, args)
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		return fmt.Errorf("request queue %q exists with other settings than this server declares "+
			"(durable, not auto-delete, arguments %v). "+
			"A queue declared by an older svcclient (auto-delete) or with another queue type cannot be "+
			"changed in place: stop its servers, delete it once (rabbitmqctl delete_queue %s, with -p "+
			"for its vhost, or the management UI), then start the servers; clients need no change: %w",
			queue, args, queue, err)
	}
	return err
}
