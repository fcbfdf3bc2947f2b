package svcotel_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/service"
	svcotel "github.com/svcclient/svcclient/otel"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

// BenchmarkGRPCUnary compares the cost of tracing one unary gRPC call with
// svcotel's interceptors and with otelgrpc's stats handlers, on the same
// call, with the same SDK (every span sampled and recorded, metrics read by
// a manual reader). "none" is the call untraced. Compare ns/op and
// allocs/op of svcotel and otelgrpc (benchstat, or the ratio by eye).
func BenchmarkGRPCUnary(b *testing.B) {
	b.Run("none", func(b *testing.B) {
		benchGreeter(b, nil, nil, nil)
	})
	b.Run("svcotel", func(b *testing.B) {
		opts := benchOptions(b)
		benchGreeter(b,
			[]runtime.ServiceOption{runtime.WithServerUnaryInterceptors(svcotel.UnaryServerInterceptor(opts.svcotel...))},
			[]runtime.ClientOption{runtime.WithUnaryInterceptors(svcotel.UnaryClientInterceptor(opts.svcotel...))},
			nil)
	})
	b.Run("otelgrpc", func(b *testing.B) {
		opts := benchOptions(b)
		benchGreeter(b, nil, nil, &grpcStats{
			server: grpc.StatsHandler(otelgrpc.NewServerHandler(opts.otelgrpc...)),
			client: grpc.WithStatsHandler(otelgrpc.NewClientHandler(opts.otelgrpc...)),
		})
	})
}

type grpcStats struct {
	server grpc.ServerOption
	client grpc.DialOption
}

type benchOpts struct {
	svcotel  []svcotel.Option
	otelgrpc []otelgrpc.Option
}

// benchOptions returns both packages' options for one SDK.
func benchOptions(b *testing.B) benchOpts {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	p := propagation.TraceContext{}
	return benchOpts{
		svcotel:  []svcotel.Option{svcotel.WithTracerProvider(tp), svcotel.WithMeterProvider(mp), svcotel.WithPropagator(p)},
		otelgrpc: []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp), otelgrpc.WithPropagators(p)},
	}
}

// benchGreeter measures SayHello over gRPC on loopback.
func benchGreeter(b *testing.B, svcOpts []runtime.ServiceOption, clientOpts []runtime.ClientOption, stats *grpcStats) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var serverOpts []grpc.ServerOption
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if stats != nil {
		serverOpts = append(serverOpts, stats.server)
		dialOpts = append(dialOpts, stats.client)
	}
	s := grpc.NewServer(serverOpts...)
	grpctransport.Register(s, helloworldsvc.NewGreeterService(service.Greeter{}, svcOpts...))
	go func() { _ = s.Serve(lis) }()
	defer s.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), dialOpts...)
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	greeter := helloworldsvc.NewGreeterClient(grpctransport.NewConn(cc), clientOpts...)
	ctx := context.Background()
	req := &helloworld.HelloRequest{Name: "Ada"}
	if _, err := greeter.SayHello(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := greeter.SayHello(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
