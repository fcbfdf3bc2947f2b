package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// BenchmarkAMQPSides pairs our client with the raw server and the raw
// client with our server, on a classic queue at 100 B, so that the cost
// over the raw loop in BenchmarkAMQP can be put on one side or the other.
// Compare each row with BenchmarkAMQP's raw-amqp091 row of the same run;
// with -cpuprofile, or the process's and the broker's CPU time per call,
// it also tells where the time goes.
func BenchmarkAMQPSides(b *testing.B) {
	req := Message(100)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d/client=svcclient/server=raw-amqp091", n), func(b *testing.B) {
			queue := benchQueue("sides")
			rawServer(b, dialBroker(b), queue, n, queueKinds[0])
			conn, err := amqptransport.Dial(amqptest.URL(b), amqptransport.WithRouting(func(string) (string, string) { return "", queue }))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = conn.Close() })
			client := benchv1svc.NewBenchServiceClient(conn)
			b.ReportAllocs()
			Load(b, n, func(ctx context.Context) error {
				_, err := client.Echo(ctx, req)
				return err
			})
		})
		b.Run(fmt.Sprintf("inflight=%d/client=raw-amqp091/server=svcclient", n), func(b *testing.B) {
			queue := benchQueue("sides")
			url := amqptest.URL(b)
			srv := amqptransport.NewServer(append(queueKinds[0].serverOptions(), amqptransport.WithPrefetch(n))...)
			srv.Register(benchv1svc.NewBenchServiceService(Impl{}), amqptransport.WithQueue(queue))
			if err := srv.Start(url); err != nil {
				b.Fatal(err)
			}
			deleteQueueAtEnd(b, url, queue) // after Shutdown: cleanups run last-in first-out
			b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			client := newRawClient(b, dialBroker(b), queue)
			b.ReportAllocs()
			Load(b, n, func(ctx context.Context) error {
				_, err := client.Echo(ctx, req)
				return err
			})
		})
	}
}
