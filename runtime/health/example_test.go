package health_test

import (
	"context"
	"fmt"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/health"
)

// A health server next to the service it reports on. Serve hs.Service()
// wherever the greeter is served: grpctransport.Register,
// httptransport.NewHandler, an amqptransport Server's Register, or in
// process as here. Before a graceful stop, hs.Shutdown() tells clients
// the server is NOT_SERVING.
func ExampleNewServer() {
	greeter := helloworldsvc.NewGreeterService(service.Greeter{})
	hs := health.NewServer()
	hs.SetServing(greeter)
	conn := runtime.NewInProcessConn(greeter, hs.Service())
	ctx := context.Background()

	st, err := health.Check(ctx, conn, "helloworld.Greeter")
	fmt.Println(st, err)

	hs.Shutdown() // then stop the transports' servers gracefully
	st, err = health.Check(ctx, conn, "helloworld.Greeter")
	fmt.Println(st, err)

	// grpc-go's generated client works over any connection too.
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	fmt.Println(res, err)
	// Output:
	// SERVING <nil>
	// NOT_SERVING <nil>
	// <nil> rpc error: code = NotFound desc = unknown service
}

// A fallback connection that sends calls past a transport whose server
// reports NOT_SERVING. In production the first would be a gRPC connection
// and the second an HTTP one.
func ExampleNewConn() {
	hs := health.NewServer()
	first := health.NewConn(runtime.NewInProcessConn(helloworldsvc.NewGreeterService(namedGreeter("first")), hs.Service()), "")
	defer first.Close()
	second := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(namedGreeter("second")))
	greeter := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(first, second))
	ctx := context.Background()

	reply, _ := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"})
	fmt.Println(reply.GetMessage())

	hs.Shutdown()
	for first.Serving() { // the watch reports it within a moment
		time.Sleep(time.Millisecond)
	}
	reply, _ = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"})
	fmt.Println(reply.GetMessage())
	// Output:
	// Hello, Ada, from first
	// Hello, Ada, from second
}

// namedGreeter greets from the server it names.
type namedGreeter string

func (g namedGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	return &helloworld.HelloReply{Message: "Hello, " + in.GetName() + ", from " + string(g)}, nil
}
