package amqptransport_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

type exampleGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
}

func (exampleGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	return &helloworld.HelloReply{Message: "Hello " + in.GetName()}, nil
}

// Serve an implementation from the queue "helloworld.Greeter" and call it
// through the generated client. (Not run by go test: it needs a broker.
// The package's tests run the same code against one.)
func Example() {
	const url = "amqp://guest:guest@localhost:5672/"

	srv := amqptransport.NewServer()
	srv.Register(helloworldsvc.NewGreeterService(exampleGreeter{}))
	if err := srv.Start(url); err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	conn, err := amqptransport.Dial(url)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := helloworldsvc.NewGreeterClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "world"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.GetMessage())
}
