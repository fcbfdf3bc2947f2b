package bench

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// svcAMQP serves Impl with our AMQP server on queue and returns our client.
func svcAMQP(b *testing.B, queue string, serverOpts ...amqptransport.ServerOption) grpc.ClientConnInterface {
	b.Helper()
	url := amqptest.URL(b) // skips, saying how to start a broker, when there is none
	srv := amqptransport.NewServer(serverOpts...)
	srv.Register(benchv1svc.NewBenchServiceService(Impl{}), amqptransport.WithQueue(queue))
	if err := srv.Start(url); err != nil {
		b.Fatal(err)
	}
	deleteQueueAtEnd(b, url, queue) // after Shutdown: cleanups run last-in first-out
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := amqptransport.Dial(url, amqptransport.WithRouting(func(string) (string, string) { return "", queue }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return conn
}

// BenchmarkAMQP: our AMQP client and server against a raw amqp091-go loop
// on Direct Reply-to doing the same round trip (decode, encode, reply, ack)
// with no framework, at 1 and 64 calls in flight, on a classic and on a
// quorum request queue; and against the same raw loop giving our server's
// guarantees (raw-amqp091-confirmed: replies on their own connection,
// requests acked after the reply's confirm). At 1 in flight compare
// p50-µs; at 64, calls/s.
func BenchmarkAMQP(b *testing.B) {
	for _, kind := range queueKinds {
		for _, size := range Sizes {
			req := Message(size.Bytes)
			for _, n := range []int{1, 64} {
				b.Run(fmt.Sprintf("queue=%s/size=%s/inflight=%d/client=svcclient", kind, size.Name, n), func(b *testing.B) {
					opts := append(kind.serverOptions(), amqptransport.WithPrefetch(max(n, 1)))
					client := benchv1svc.NewBenchServiceClient(svcAMQP(b, benchQueue("svc"), opts...))
					b.ReportAllocs()
					Load(b, n, func(ctx context.Context) error {
						_, err := client.Echo(ctx, req)
						return err
					})
				})
				b.Run(fmt.Sprintf("queue=%s/size=%s/inflight=%d/client=raw-amqp091", kind, size.Name, n), func(b *testing.B) {
					// A connection each, as our server and client have, and as
					// two processes would.
					queue := benchQueue("raw")
					rawServer(b, dialBroker(b), queue, max(n, 1), kind)
					client := newRawClient(b, dialBroker(b), queue)
					b.ReportAllocs()
					Load(b, n, func(ctx context.Context) error {
						_, err := client.Echo(ctx, req)
						return err
					})
				})
				b.Run(fmt.Sprintf("queue=%s/size=%s/inflight=%d/client=raw-amqp091-confirmed", kind, size.Name, n), func(b *testing.B) {
					// The raw loop with our server's guarantees: replies on a
					// connection of their own, acked after their confirm.
					queue := benchQueue("rawc")
					rawConfirmedServer(b, dialBroker(b), dialBroker(b), queue, max(n, 1), kind)
					client := newRawClient(b, dialBroker(b), queue)
					b.ReportAllocs()
					Load(b, n, func(ctx context.Context) error {
						_, err := client.Echo(ctx, req)
						return err
					})
				})
			}
		}
	}
}

// BenchmarkAMQPPrefetch: the cost of the server's prefetch at 64 calls in
// flight, from 1 (one request at a time) to the default.
func BenchmarkAMQPPrefetch(b *testing.B) {
	req := Message(100)
	for _, prefetch := range []int{1, 16, 0} {
		name := fmt.Sprint(prefetch)
		if prefetch == 0 {
			name = "default"
		}
		b.Run("prefetch="+name, func(b *testing.B) {
			var opts []amqptransport.ServerOption
			if prefetch > 0 {
				opts = append(opts, amqptransport.WithPrefetch(prefetch))
			}
			client := benchv1svc.NewBenchServiceClient(svcAMQP(b, benchQueue("prefetch"), opts...))
			Load(b, 64, func(ctx context.Context) error {
				_, err := client.Echo(ctx, req)
				return err
			})
		})
	}
}

// BenchmarkAMQPServerConcurrency: 64 calls in flight against servers
// running 1, 8 and 64 (the default) handlers at once. With a cheap handler
// the figures should match: what the worker pool costs is the difference.
func BenchmarkAMQPServerConcurrency(b *testing.B) {
	req := Message(100)
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", n), func(b *testing.B) {
			client := benchv1svc.NewBenchServiceClient(svcAMQP(b, benchQueue("concurrency"), amqptransport.WithConcurrency(n), amqptransport.WithPrefetch(64)))
			Load(b, 64, func(ctx context.Context) error {
				_, err := client.Echo(ctx, req)
				return err
			})
		})
	}
}
