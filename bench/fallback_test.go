package bench

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

func init() {
	moreLoadTransports = append(moreLoadTransports,
		loadTransport{"http", func(b *testing.B) grpc.ClientConnInterface {
			return svcHTTPConn(b, startHTTP(b, svcHandler()), runtime.ProtoCodec{})
		}},
		loadTransport{"amqp", func(b *testing.B) grpc.ClientConnInterface { return svcAMQP(b, benchQueue("load")) }},
	)
}

// BenchmarkFallback: the cost of a fallback connection whose first
// transport is healthy (gRPC, then HTTP) against that transport alone.
func BenchmarkFallback(b *testing.B) {
	cc := grpcServer(b)
	grpcConn := grpctransport.NewConn(cc)
	httpConn := svcHTTPConn(b, startHTTP(b, svcHandler()), runtime.ProtoCodec{})
	for _, size := range Sizes {
		req := Message(size.Bytes)
		for _, c := range []struct {
			name string
			conn grpc.ClientConnInterface
		}{
			{"grpc", grpcConn},
			{"fallback-grpc-http", runtime.NewFallbackConn(grpcConn, httpConn)},
		} {
			client := benchv1svc.NewBenchServiceClient(c.conn)
			warmUp(b, func(ctx context.Context) error { _, err := client.Echo(ctx, req); return err })
			b.Run("size="+size.Name+"/conn="+c.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
