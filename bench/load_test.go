package bench

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

// loadTransport is one transport in the load benchmark: a Conn to a server
// serving Impl.
type loadTransport struct {
	name string
	conn func(b *testing.B) grpc.ClientConnInterface
}

func loadTransports() []loadTransport {
	return append([]loadTransport{
		{"grpc", func(b *testing.B) grpc.ClientConnInterface { return grpctransport.NewConn(grpcServer(b)) }},
		{"inprocess", func(b *testing.B) grpc.ClientConnInterface {
			return runtime.NewInProcessConn(benchv1svc.NewBenchServiceService(Impl{}))
		}},
	}, moreLoadTransports...)
}

// moreLoadTransports are added by the files of transports that need more
// set-up (HTTP, AMQP).
var moreLoadTransports []loadTransport

// BenchmarkLoad reports throughput and p50/p99 latency of unary calls
// through the generated client at 1, 16 and 64 calls in flight.
func BenchmarkLoad(b *testing.B) {
	for _, tr := range loadTransports() {
		b.Run("transport="+tr.name, func(b *testing.B) {
			client := benchv1svc.NewBenchServiceClient(tr.conn(b))
			for _, size := range Sizes {
				req := Message(size.Bytes)
				for _, n := range InFlight {
					b.Run(fmt.Sprintf("size=%s/inflight=%d", size.Name, n), func(b *testing.B) {
						b.ReportAllocs()
						Load(b, n, func(ctx context.Context) error {
							_, err := client.Echo(ctx, req)
							return err
						})
					})
				}
			}
		})
	}
}
