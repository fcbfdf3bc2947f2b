package bench

import (
	"context"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	benchv1 "github.com/svcclient/svcclient/bench/gen/bench/v1"
	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

// grpcServer starts a grpc-go server on loopback with the peer's own
// registration (protoc-gen-go-grpc), so both clients call the same server.
func grpcServer(b *testing.B) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(srv, Impl{})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return cc
}

// grpcClients are the two clients compared on gRPC: both have the method
// set of protoc-gen-go-grpc's client interface.
func grpcClients(cc *grpc.ClientConn) []struct {
	name   string
	client benchv1.BenchServiceClient
} {
	return []struct {
		name   string
		client benchv1.BenchServiceClient
	}{
		{"svcclient", benchv1svc.NewBenchServiceClient(grpctransport.NewConn(cc))},
		{"grpc-go", benchv1.NewBenchServiceClient(cc)},
	}
}

// BenchmarkGRPCUnary: our gRPC transport against protoc-gen-go-grpc's
// client, one call at a time, on the same grpc-go server.
func BenchmarkGRPCUnary(b *testing.B) {
	cc := grpcServer(b)
	for _, size := range Sizes {
		req := Message(size.Bytes)
		for _, c := range grpcClients(cc) {
			warmUp(b, func(ctx context.Context) error { _, err := c.client.Echo(ctx, req); return err })
			b.Run("size="+size.Name+"/client="+c.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.client.Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGRPCServerStream: one op is a 1,000-message server stream.
func BenchmarkGRPCServerStream(b *testing.B) {
	cc := grpcServer(b)
	for _, size := range Sizes {
		req := &benchv1.StreamRequest{Count: 1000, Size: int32(size.Bytes)}
		for _, c := range grpcClients(cc) {
			b.Run("size="+size.Name+"/client="+c.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					stream, err := c.client.Stream(ctx, req)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						_, err := stream.Recv()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != 1000 {
						b.Fatalf("%d messages, want 1000", n)
					}
				}
			})
		}
	}
}
