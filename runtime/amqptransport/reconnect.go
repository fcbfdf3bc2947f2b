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
// succeeds or the Conn or Server is closed.

// backoffDelay returns how long to wait before reconnect attempt retries+1,
// by grpc-go's exponential backoff with jitter.
func backoffDelay(cfg backoff.Config, retries int) time.Duration {
	if retries == 0 {
		return cfg.BaseDelay
	}
	d, max := float64(cfg.BaseDelay), float64(cfg.MaxDelay)
	for d < max && retries > 0 {
		d *= cfg.Multiplier
		retries--
	}
	if d > max {
		d = max
	}
	d *= 1 + cfg.Jitter*(rand.Float64()*2-1)
	if d < 0 {
		return 0
	}
	return time.Duration(d)
}

// healthyAfter is how long a connection must have lived for the next
// reconnect to start from the first delay again.
const healthyAfter = 10 * time.Second

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
