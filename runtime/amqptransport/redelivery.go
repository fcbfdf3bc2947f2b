package amqptransport

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// delivery is what a handler can learn about how its request reached it.
type delivery struct {
	redelivered bool
	count       int
}

type deliveryKey struct{}

// Redelivered reports whether the request a handler serves was delivered
// before, to this server or another, without being answered: that server
// lost its connection or died while it held the request. Execution over
// AMQP is at-least-once, so a handler whose effects must not happen twice
// uses this to look for the effects of an earlier run.
//
// deliveryCount is how many times the broker delivered the request before
// this delivery, as quorum queues count it (their x-delivery-count header);
// classic queues do not count, and give 0 even when redelivered is true.
// Outside a handler served over AMQP, Redelivered returns false, 0.
func Redelivered(ctx context.Context) (redelivered bool, deliveryCount int) {
	d, _ := ctx.Value(deliveryKey{}).(delivery)
	return d.redelivered, d.count
}

// deliveryOf reads what Redelivered reports from a delivery.
func deliveryOf(d *amqp.Delivery) delivery {
	out := delivery{redelivered: d.Redelivered}
	if v, ok := d.Headers[hdrDeliveryCount]; ok {
		if n, ok := headerInt(v); ok && n > 0 {
			out.count = int(n)
			out.redelivered = true
		}
	}
	return out
}

// poisoned returns the ABORTED error for a request delivered limit times or
// more without an answer, or nil. A quorum queue delivers a request with
// x-delivery-count 0 to limit and drops it after that (x-delivery-limit):
// the last delivery the broker makes is the one that is answered with an
// error, so that its caller fails at once instead of at its deadline.
func poisoned(d delivery, limit int) error {
	if limit <= 0 || d.count < limit {
		return nil
	}
	return status.Errorf(codes.Aborted, "delivered %d times without an answer: the server crashed handling it", d.count)
}

func withDelivery(ctx context.Context, d delivery) context.Context {
	if !d.redelivered {
		return ctx
	}
	return context.WithValue(ctx, deliveryKey{}, d)
}
