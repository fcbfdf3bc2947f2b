package health

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// DefaultInterval is how often a [Conn] checks its server's health where
// it cannot watch it, and how long it waits before watching again after a
// watch broke.
const DefaultInterval = time.Second

// Conn is a connection that keeps track of whether its server reports a
// service SERVING. Calls go through it to the connection it wraps,
// unchanged; [Conn.Serving] reports the health. Given to
// runtime.NewFallbackConn, a Conn whose server is not serving is tried
// after the other connections (and still tried, last, when they cannot
// take the call), so a transport whose server is shutting down or
// unreachable is skipped without a failed call first.
//
// It follows what grpc-go's client-side health checking does (the
// healthCheckConfig of a service config), on every transport:
//
//   - It watches the service's health with Watch, so a change is seen as
//     soon as the server reports it. Where Watch is Unimplemented (the AMQP
//     transport carries no server streams) it calls Check every interval
//     instead, each call bounded by the interval.
//   - Only SERVING is serving. NOT_SERVING, SERVICE_UNKNOWN, an unknown
//     service (NotFound), a broken watch and a failed or timed-out Check
//     (the server is unreachable) are not.
//   - A server that does not serve the health service at all (Check
//     answers Unimplemented) counts as serving, as grpc-go disables health
//     checking then: health is opt-in on the server.
//   - Until the first answer, the server counts as serving, so that a new
//     Conn sends calls where they would go without it.
//
// One difference from grpc-go: grpc-go fails calls when every backend is
// unhealthy; the fallback connection tries them in order instead, since a
// stale or wrong health report must not make a reachable service
// unreachable.
//
// A Conn runs one goroutine until [Conn.Close].
type Conn struct {
	grpc.ClientConnInterface
	service  string
	interval time.Duration
	serving  atomic.Bool
	cancel   context.CancelFunc
	done     chan struct{}
}

// ConnOption configures a Conn.
type ConnOption interface {
	applyToConn(*Conn)
}

type connOptionFunc func(*Conn)

func (f connOptionFunc) applyToConn(c *Conn) { f(c) }

// WithInterval sets how often the Conn calls Check where it cannot watch,
// the timeout of each Check, and the pause before watching again after a
// watch broke. The default is [DefaultInterval].
func WithInterval(d time.Duration) ConnOption {
	return connOptionFunc(func(c *Conn) {
		if d > 0 {
			c.interval = d
		}
	})
}

// NewConn returns conn, keeping track of the health the server at its
// other end reports for service ("" for the whole server). Close stops
// the tracking; it does not close conn.
func NewConn(conn grpc.ClientConnInterface, service string, opts ...ConnOption) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ClientConnInterface: conn, service: service, interval: DefaultInterval, cancel: cancel, done: make(chan struct{})}
	for _, o := range opts {
		o.applyToConn(c)
	}
	c.serving.Store(true)
	go c.run(ctx)
	return c
}

// Serving reports whether the server was serving at its last report.
func (c *Conn) Serving() bool { return c.serving.Load() }

// Close stops tracking the server's health and waits until the Conn's
// goroutine has returned. The wrapped connection stays open.
func (c *Conn) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Conn) run(ctx context.Context) {
	defer close(c.done)
	client := healthpb.NewHealthClient(c.ClientConnInterface)
	canWatch := true
	for {
		if canWatch {
			started := time.Now()
			received, err := c.watch(ctx, client)
			if ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Unimplemented && !received {
				// No server streams on this transport, or no health
				// service on the server: Check tells which.
				canWatch = false
				continue
			}
			if received && time.Since(started) > c.interval {
				// A watch that worked for a while broke (an idle
				// timeout, a proxy, a server going away): watch again at
				// once, as grpc-go does, keeping the last report until
				// the new watch answers or fails.
				continue
			}
			c.serving.Store(false)
		} else {
			c.check(ctx, client)
		}
		t := time.NewTimer(c.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watch follows the server's reports until the stream ends, and returns
// whether any arrived and why it ended.
func (c *Conn) watch(ctx context.Context, client healthpb.HealthClient) (received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: c.service})
	if err != nil {
		return false, err
	}
	for {
		res, err := stream.Recv()
		if err != nil {
			return received, err
		}
		received = true
		c.serving.Store(res.GetStatus() == healthpb.HealthCheckResponse_SERVING)
	}
}

// check asks once, within the interval.
func (c *Conn) check(ctx context.Context, client healthpb.HealthClient) {
	ctx, cancel := context.WithTimeout(ctx, c.interval)
	defer cancel()
	res, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: c.service})
	switch {
	case err == nil:
		c.serving.Store(res.GetStatus() == healthpb.HealthCheckResponse_SERVING)
	case status.Code(err) == codes.Unimplemented:
		c.serving.Store(true)
	case ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded:
		// Closing: leave the last report.
	default:
		c.serving.Store(false)
	}
}
