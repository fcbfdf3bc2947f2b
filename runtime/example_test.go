package runtime_test

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
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

// deadGRPC returns a gRPC connection to a port nothing listens on.
func deadGRPC() grpc.ClientConnInterface {
	cc, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	return grpctransport.NewConn(cc)
}

// A fallback connection tries gRPC first; where gRPC cannot connect, the
// call goes over the next transport, and AnsweredBy says which one carried
// it.
func ExampleNewFallbackConn() {
	inProcess := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(service.Greeter{}))
	greeter := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(deadGRPC(), inProcess))

	var transport string
	reply, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&transport))
	if err != nil {
		fmt.Println(status.Code(err))
		return
	}
	fmt.Println(reply.GetMessage(), "over", transport)
	// Output: Hello, Ada over inprocess
}

func ExampleAnsweredBy() {
	conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(service.Greeter{}))
	greeter := helloworldsvc.NewGreeterClient(conn)

	var transport string
	if _, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&transport)); err != nil {
		fmt.Println(status.Code(err))
		return
	}
	fmt.Println(transport)
	// Output: inprocess
}

// A call that never left the client matches ErrNotSent: it is safe to try
// again elsewhere, whatever the method does.
func ExampleErrNotSent() {
	greeter := helloworldsvc.NewGreeterClient(deadGRPC())

	_, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: "Ada"})
	fmt.Println(status.Code(err), errors.Is(err, runtime.ErrNotSent))
	// Output: Unavailable true
}
