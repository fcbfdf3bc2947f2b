package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/svcclient/svcclient/bench/gen/bench/v1"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// dialBroker connects to the broker the tests use (AMQP_URL), or skips the
// benchmark saying how to start one.
func dialBroker(b *testing.B) *amqp.Connection {
	b.Helper()
	conn, err := amqp.Dial(amqptest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return conn
}

var benchQueues atomic.Int64

func benchQueue(prefix string) string {
	return fmt.Sprintf("svcclient.bench.%s.%d.%d", prefix, os.Getpid(), benchQueues.Add(1))
}

// queueKind is a request queue type the AMQP rows run on.
type queueKind string

const (
	classicQueue queueKind = "classic"
	quorumQueue  queueKind = "quorum"
)

var queueKinds = []queueKind{classicQueue, quorumQueue}

// serverOptions returns our server's options for kind.
func (k queueKind) serverOptions() []amqptransport.ServerOption {
	if k == quorumQueue {
		return []amqptransport.ServerOption{amqptransport.WithQuorumQueue()}
	}
	return nil
}

// declareArgs are the arguments our server declares a request queue of kind
// with (docs/amqp-protocol.md section 1), so that the raw loop makes the
// broker do the same work.
func (k queueKind) declareArgs() amqp.Table {
	args := amqp.Table{"x-expires": int32(24 * 60 * 60 * 1000)}
	if k == quorumQueue {
		args["x-queue-type"] = "quorum"
		args["x-delivery-limit"] = int32(amqptransport.DefaultDeliveryLimit)
	}
	return args
}

// deleteQueueAtEnd deletes queue when the benchmark ends: request queues
// are not auto-delete, and a run declares hundreds of them.
func deleteQueueAtEnd(b *testing.B, url, queue string) {
	b.Cleanup(func() {
		conn, err := amqp.Dial(url)
		if err != nil {
			b.Errorf("deleting queue %s: %v", queue, err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err == nil {
			_, err = ch.QueueDelete(queue, false, false, false)
		}
		if err != nil {
			b.Errorf("deleting queue %s: %v", queue, err)
		}
	})
}

// rawServer answers Echo on queue with no framework: decode, encode,
// publish to reply_to with the correlation id, ack.
func rawServer(b *testing.B, conn *amqp.Connection, queue string, prefetch int, kind queueKind) {
	b.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	// Declared as our server declares its queues, so that the broker does
	// the same work for both.
	if _, err := ch.QueueDeclare(queue, true, false, false, false, kind.declareArgs()); err != nil {
		b.Fatal(err)
	}
	deleteQueueAtEnd(b, amqptest.URL(b), queue)
	if err := ch.Qos(prefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		in := new(benchv1.Payload)
		for d := range deliveries {
			if err := proto.Unmarshal(d.Body, in); err != nil {
				_ = d.Nack(false, false)
				continue
			}
			body, _ := proto.Marshal(in)
			_ = ch.PublishWithContext(context.Background(), "", d.ReplyTo, false, false, amqp.Publishing{
				CorrelationId: d.CorrelationId,
				ContentType:   "application/proto",
				Body:          body,
			})
			_ = d.Ack(false)
		}
	}()
	b.Cleanup(func() {
		_ = ch.Close()
		<-done
	})
}

// rawConfirmedServer is rawServer with the guarantees our server gives
// since issue 10, written as directly as amqp091-go allows: replies go out
// on a second connection (pubConn), on a channel in confirm mode, and a
// request is acked only once the broker has confirmed its reply. One
// goroutine consumes and publishes; another waits for the confirms, in
// publishing order, and acks. Beside rawServer it shows what the
// guarantees cost any implementation; beside our server, what ours costs
// on top of them.
func rawConfirmedServer(b *testing.B, conn, pubConn *amqp.Connection, queue string, prefetch int, kind queueKind) {
	b.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, kind.declareArgs()); err != nil {
		b.Fatal(err)
	}
	deleteQueueAtEnd(b, amqptest.URL(b), queue)
	// Twice the prefetch, as our server: a request waiting for its reply's
	// confirm is still unacked.
	if err := ch.Qos(2*prefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	pch, err := pubConn.Channel()
	if err == nil {
		err = pch.Confirm(false)
	}
	if err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	type unconfirmed struct {
		d  amqp.Delivery
		dc *amqp.DeferredConfirmation
	}
	waiting := make(chan unconfirmed, 2*prefetch)
	done := make(chan struct{})
	go func() {
		defer close(waiting)
		in := new(benchv1.Payload)
		for d := range deliveries {
			if err := proto.Unmarshal(d.Body, in); err != nil {
				_ = d.Nack(false, false)
				continue
			}
			body, _ := proto.Marshal(in)
			dc, err := pch.PublishWithDeferredConfirm("", d.ReplyTo, false, false, amqp.Publishing{
				CorrelationId: d.CorrelationId,
				ContentType:   "application/proto",
				Body:          body,
			})
			if err != nil {
				_ = d.Nack(false, true)
				continue
			}
			waiting <- unconfirmed{d, dc}
		}
	}()
	go func() {
		defer close(done)
		for u := range waiting {
			if u.dc.Wait() {
				_ = u.d.Ack(false)
			} else {
				_ = u.d.Nack(false, true)
			}
		}
	}()
	b.Cleanup(func() {
		_ = ch.Close()
		<-done
		_ = pch.Close()
	})
}

// rawClient is the peer: Direct Reply-to with a map from correlation id to
// waiting caller, and nothing else.
type rawClient struct {
	ch      *amqp.Channel
	queue   string
	next    atomic.Uint64
	mu      sync.Mutex
	pending map[string]chan amqp.Delivery
}

func newRawClient(b *testing.B, conn *amqp.Connection, queue string) *rawClient {
	b.Helper()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	replies, err := ch.Consume("amq.rabbitmq.reply-to", "", true, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &rawClient{ch: ch, queue: queue, pending: map[string]chan amqp.Delivery{}}
	go func() {
		for d := range replies {
			c.mu.Lock()
			w := c.pending[d.CorrelationId]
			delete(c.pending, d.CorrelationId)
			c.mu.Unlock()
			if w != nil {
				w <- d
			}
		}
	}()
	b.Cleanup(func() { _ = ch.Close() })
	return c
}

func (c *rawClient) Echo(ctx context.Context, in *benchv1.Payload) (*benchv1.Payload, error) {
	body, err := proto.Marshal(in)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatUint(c.next.Add(1), 36)
	w := make(chan amqp.Delivery, 1)
	c.mu.Lock()
	c.pending[id] = w
	c.mu.Unlock()
	err = c.ch.PublishWithContext(ctx, "", c.queue, false, false, amqp.Publishing{
		CorrelationId: id,
		ReplyTo:       "amq.rabbitmq.reply-to",
		ContentType:   "application/proto",
		Body:          body,
	})
	if err != nil {
		return nil, err
	}
	select {
	case d := <-w:
		out := new(benchv1.Payload)
		return out, proto.Unmarshal(d.Body, out)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("no reply to %s", id)
	}
}
