package amqptransport

import (
	"context"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Cancellation, the server half (docs/amqp-protocol.md section 8): a client
// whose call is cancelled publishes a "cancel" message to the cancelExchange
// with the request queue as routing key and the call's correlation_id. Each
// server session binds a queue of its own to the exchange for every queue
// it serves, and cancels the context of the handler running that call.

// cancelType is the type property of a cancel message.
const cancelType = "cancel"

// errCancelledByClient is the cause of a handler context the client
// cancelled.
var errCancelledByClient = status.Error(codes.Canceled, "the client cancelled the call")

// inflightKey names a request being handled: correlation ids are unique
// across clients (section 8), the queue keeps two services apart anyway.
type inflightKey struct {
	queue, correlationID string
}

// inflight is the set of requests being handled, by correlation id, with
// the function that cancels each one's handler.
type inflight struct {
	mu    sync.Mutex
	calls map[inflightKey]context.CancelCauseFunc
}

// add records a running request; remove must follow. A request without a
// correlation_id cannot be cancelled and is not recorded.
func (f *inflight) add(queue, id string, cancel context.CancelCauseFunc) {
	if id == "" {
		return
	}
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[inflightKey]context.CancelCauseFunc)
	}
	f.calls[inflightKey{queue, id}] = cancel
	f.mu.Unlock()
}

func (f *inflight) remove(queue, id string) {
	if id == "" {
		return
	}
	f.mu.Lock()
	delete(f.calls, inflightKey{queue, id})
	f.mu.Unlock()
}

// cancel cancels the handler of the request queue/id, if one runs. A cancel
// for a request not running here (not started yet, finished, or on another
// server) is dropped.
func (f *inflight) cancel(queue, id string) bool {
	f.mu.Lock()
	c, ok := f.calls[inflightKey{queue, id}]
	f.mu.Unlock()
	if ok {
		c(errCancelledByClient)
	}
	return ok
}

// listenForCancels declares the session's cancel queue (server-named,
// exclusive, auto-delete: it lives as long as the connection), binds it to
// the cancel exchange once per served queue, and consumes it on consuming
// with no acks. The goroutine it starts ends when the connection closes.
func (ss *serverSession) listenForCancels(setupCh *amqp.Channel, queues []string) error {
	if err := setupCh.ExchangeDeclare(cancelExchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return err
	}
	q, err := setupCh.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return err
	}
	for _, queue := range queues {
		if err := setupCh.QueueBind(q.Name, queue, cancelExchange, false, nil); err != nil {
			return err
		}
	}
	cancels, err := ss.consuming.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return err
	}
	go func() {
		for d := range cancels {
			// Auto-acked, on the consuming channel: its tag is settled.
			ss.acks.settle(d.DeliveryTag)
			if strings.EqualFold(d.Type, cancelType) && d.CorrelationId != "" {
				ss.srv.inflight.cancel(d.RoutingKey, d.CorrelationId)
			}
		}
	}()
	return nil
}
