// Package amqptransport carries svcclient calls over AMQP 0-9-1 on
// RabbitMQ, with github.com/rabbitmq/amqp091-go: request/reply with the
// semantics of a gRPC unary call (status codes with details, deadlines,
// cancellation, metadata).
//
// The client half, [Conn], is a [grpc.ClientConnInterface] for generated clients:
//
//	conn, err := amqptransport.Dial("amqp://guest:guest@localhost:5672/")
//	...
//	defer conn.Close()
//	client := helloworldsvc.NewGreeterClient(conn)
//	reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "world"})
//
// One connection carries every call. A request goes to the default
// exchange with the service's name as routing key ([WithRouting] changes
// that), with mandatory set, so that a request no queue takes fails at once
// with Unavailable; the reply comes back by Direct Reply-to
// ([WithPrivateReplyQueue] changes that) and is matched to its call by
// correlation_id. The context's deadline travels as the message's
// expiration and as a header the server takes for its own deadline;
// cancelling the context ends the call with Canceled at once. When the
// connection is lost, every call in flight fails with Unavailable and the
// Conn reconnects with backoff; grpc.WaitForReady(true) makes a call wait
// for the reconnect instead of failing.
//
// Errors carry a gRPC status, as on grpc-go. Those that happened before the
// request could reach a queue (not connected, no queue for the routing key,
// refused by the broker) are marked with [runtime.NotSent], so that a
// fallback connection may try another transport.
//
// AMQP carries unary calls only: NewStream fails with Unimplemented. Use
// gRPC, HTTP (server streaming) or the in-process transport for streams.
//
// The server half, [Server], serves a [runtime.Service] (the implementation
// also served over gRPC and HTTP) from a queue per service, named after the
// service by default, with a prefetch and a bounded pool of workers:
//
//	srv := amqptransport.NewServer()
//	srv.Register(helloworldsvc.NewGreeterService(impl))
//	go srv.Serve("amqp://guest:guest@localhost:5672/")
//	...
//	srv.Shutdown(ctx)
//
// Any number of servers may consume one queue: the broker shares the
// requests between them.
//
// docs/amqp-protocol.md in this repository is the wire contract: enough to
// write either side in another language.
package amqptransport
