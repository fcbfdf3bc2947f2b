package bench

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	benchv1 "github.com/svcclient/svcclient/bench/gen/bench/v1"
)

// startGRPCServer serves Impl with grpc-go's own grpc.Server and returns
// its address.
func startGRPCServer(b *testing.B) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(srv, Impl{})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// BenchmarkGRPCProtocolServer: grpc-go's client, unary Echo, calling our
// handler's gRPC protocol over h2c, connect-go's handler (which speaks
// gRPC too) over h2c, and grpc-go's own grpc.Server, the physical limit of
// the protocol in Go.
func BenchmarkGRPCProtocolServer(b *testing.B) {
	servers := []struct {
		name string
		addr string
	}{
		{"svcclient", strings.TrimPrefix(startH2C(b, svcHandler()), "http://")},
		{"connect-go", strings.TrimPrefix(startH2C(b, connectHandler()), "http://")},
		{"grpc-go", startGRPCServer(b)},
	}
	for _, size := range Sizes {
		req := Message(size.Bytes)
		clients := make([]benchv1.BenchServiceClient, len(servers))
		for i, s := range servers {
			cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = cc.Close() })
			clients[i] = benchv1.NewBenchServiceClient(cc)
			warmUp(b, func(ctx context.Context) error { _, err := clients[i].Echo(ctx, req); return err })
		}
		for i, s := range servers {
			b.Run("size="+size.Name+"/server="+s.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := clients[i].Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
