package svcotel_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/service"
	svcotel "github.com/svcclient/svcclient/otel"
	"github.com/svcclient/svcclient/runtime"
)

// Tracing a client and a service: the same options work whatever
// connection the client calls over and whatever transport serves the
// service. Programs usually set the global providers and propagator
// (otel.SetTracerProvider, otel.SetTextMapPropagator) and pass no options.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	opts := []svcotel.Option{svcotel.WithTracerProvider(tp), svcotel.WithPropagator(propagation.TraceContext{})}

	svc := helloworldsvc.NewGreeterService(service.Greeter{},
		runtime.WithServerUnaryInterceptors(svcotel.UnaryServerInterceptor(opts...)),
		runtime.WithServerStreamInterceptors(svcotel.StreamServerInterceptor(opts...)))
	greeter := helloworldsvc.NewGreeterClient(runtime.NewInProcessConn(svc),
		runtime.WithUnaryInterceptors(svcotel.UnaryClientInterceptor(opts...)),
		runtime.WithStreamInterceptors(svcotel.StreamClientInterceptor(opts...)))

	if _, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Ada"}); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans.Ended() {
		fmt.Println(s.SpanKind(), s.Name(), "in trace of client:", s.SpanContext().TraceID() == spans.Ended()[1].SpanContext().TraceID())
	}
	// Output:
	// server helloworld.Greeter/SayHello in trace of client: true
	// client helloworld.Greeter/SayHello in trace of client: true
}
