package health_test

import (
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/health"
)

// BenchmarkCheck is the cost of one Check, per transport.
func BenchmarkCheck(b *testing.B) {
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			hs := health.NewServer()
			conn := tc.serve(b, hs.Service())
			ctx := testContext(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := health.Check(ctx, conn, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFallback is the cost a health.Conn adds to a call through the
// fallback connection (in process, so that the transport does not hide
// it).
func BenchmarkFallback(b *testing.B) {
	svc := helloworldsvc.NewGreeterService(&countingGreeter{})
	plain := runtime.NewInProcessConn(svc)
	hc := health.NewConn(runtime.NewInProcessConn(svc, health.NewServer().Service()), "")
	b.Cleanup(func() { _ = hc.Close() })
	for _, bc := range []struct {
		name  string
		conns []grpc.ClientConnInterface
	}{
		{"plain", []grpc.ClientConnInterface{plain, plain}},
		{"health.Conn", []grpc.ClientConnInterface{hc, plain}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(bc.conns...))
			ctx := testContext(b)
			req := &helloworld.HelloRequest{Name: "Ada"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.SayHello(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
