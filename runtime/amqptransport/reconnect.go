package amqptransport

import (
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/backoff"
)

// Reconnecting: this package owns its reconnect loop rather than use
// amqp091-go's Config.Recovery, for four reasons.
//
//   - Recovery is marked experimental and has had correctness and goroutine
//     leak fixes in each recent release; a transport is the wrong place to
//     depend on an API that may change.
//   - Recovery hides the outage: it reopens channels and re-subscribes
//     consumers under the same *Channel values. A call in flight must
//     instead fail at once with Unavailable, because its reply, addressed
//     to the old connection's Direct Reply-to channel, can never arrive.
//   - After Recovery's MaxRetryCount attempts the connection stays closed;
//     a service must keep trying as long as it runs, with backoff, as
//     grpc-go does.
//   - What must be rebuilt is ours to decide and is small: the shared
//     request channel and its reply consumer on a client, queue
//     declarations and consumers on a server. A fresh connection, built
//     by the same code that built the first, cannot drift from it.
//
// The loop: one goroutine per Conn or Server watches the connection's
// NotifyClose; on loss it fails what is in flight (the channels report it
// themselves), then dials again after backoff.Config delays, until it
// succeeds or the Conn or Server is closed. The first attempt after a loss
// is immediate; the defaults (50 ms, ×2, capped at 1 s, full jitter) make
// a Conn or Server work again within about a second of its broker coming
// back, whatever the length of the outage.

// backoffDelay returns how long to wait before reconnect attempt retries+1:
// BaseDelay·Multiplier^retries, capped at MaxDelay, then drawn uniformly
// from [d·(1−Jitter), d]. With Jitter 1 (the default) that is "full
// jitter": the delay is anywhere in [0, d], so that clients and servers
// that lost the same broker at the same instant do not all come back in the
// same millisecond, and the cap is a true upper bound (grpc-go's symmetric
// jitter could exceed it). A negative Jitter counts as 0, one above 1 as 1.
func backoffDelay(cfg backoff.Config, retries int) time.Duration {
	d, ceiling := float64(cfg.BaseDelay), float64(cfg.MaxDelay)
	for d < ceiling && retries > 0 {
		d *= cfg.Multiplier
		retries--
	}
	if d > ceiling {
		d = ceiling
	}
	jitter := min(max(cfg.Jitter, 0), 1)
	d -= d * jitter * rand.Float64()
	if d < 0 {
		return 0
	}
	return time.Duration(d)
}

// healthyAfter is how long a connection must have lived for the next
// reconnect to start from the first delay again: a connection that dies
// sooner (a broker that accepts and then drops it) keeps the delays
// growing towards MaxDelay instead of hammering the broker.
const healthyAfter = 5 * time.Second

// sleep waits d, or until done is closed; it reports whether d passed.
func sleep(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
