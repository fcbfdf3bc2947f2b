package runtime_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
)

// A generated client over the in-process transport: the way to unit-test
// code that calls a service, with the semantics of a real transport.
func ExampleNewInProcessConn() {
	conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(service.Greeter{}))
	greeter := helloworldsvc.NewGreeterClient(conn)

	reply, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Ada"})
	if err != nil {
		fmt.Println(status.Code(err))
		return
	}
	fmt.Println(reply.GetMessage())
	// Output: Hello, Ada
}

// Client interceptors run on every transport; this one adds metadata to
// every call.
func ExampleWithUnaryInterceptors() {
	addToken := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer example")
		fmt.Println("calling", method)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(service.Greeter{}))
	greeter := helloworldsvc.NewGreeterClient(conn, runtime.WithUnaryInterceptors(addToken))

	reply, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Grace"})
	if err != nil {
		fmt.Println(status.Code(err))
		return
	}
	fmt.Println(reply.GetMessage())
	// Output:
	// calling /helloworld.Greeter/SayHello
	// Hello, Grace
}
