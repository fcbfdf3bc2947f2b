// Package conformance is one test suite for every transport. Each
// transport's tests serve the example services through it and call them
// through the generated clients; the suite checks the semantics users rely
// on whatever the wire: status codes with details, metadata both ways,
// deadlines, cancellation, interceptor order, panics, and every streaming
// kind the transport supports.
package conformance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/service"
)

// Greeter answers SayHello, with behaviours chosen by the request's name so
// that one unary method exercises every path:
//
//	"error"     NotFound with an ErrorInfo detail
//	"metadata"  echoes x-request-id and x-token-bin into header and trailer
//	"block"     waits for the context to end and reports why
//	"panic"     panics with PanicSecret
//	"deadline"  reports whether the handler's context has a deadline
//	anything    "Hello, <name>"
type Greeter struct{}

// ErrorReason is the ErrorInfo reason of Greeter's "error" answer.
const ErrorReason = "NAME_UNKNOWN"

// PanicSecret is the value the services panic with: a stand-in for what a
// real handler's panic value may hold, which must reach the server's log
// and never the client.
const PanicSecret = "db password is hunter2"

// PanicCount is the CountRequest.To that makes Counter.Count panic with
// PanicSecret.
const PanicCount = 666

func (Greeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	switch in.GetName() {
	case "error":
		st, err := status.New(codes.NotFound, "no such name").WithDetails(&errdetails.ErrorInfo{
			Reason:   ErrorReason,
			Domain:   "svcclient.test",
			Metadata: map[string]string{"name": in.GetName()},
		})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	case "metadata":
		md, _ := metadata.FromIncomingContext(ctx)
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-echo", first(md, "x-request-id"), "x-echo-bin", first(md, "x-token-bin"))); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done")); err != nil {
			return nil, err
		}
		return &helloworld.HelloReply{Message: strings.Join(md.Get("x-request-id"), ",")}, nil
	case "block":
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, status.Error(codes.Internal, "the call was not ended by its context")
		}
	case "panic":
		panic(PanicSecret)
	case "deadline":
		_, ok := ctx.Deadline()
		return &helloworld.HelloReply{Message: fmt.Sprintf("deadline:%v", ok)}, nil
	}
	return &helloworld.HelloReply{Message: "Hello, " + in.GetName()}, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Counter implements every streaming kind: Sum and Echo as the example
// implementation does, Count with a header, a trailer and a failure mode.
type Counter struct {
	service.Counter
}

// Count sends 1..to; a negative to is InvalidArgument after sending a
// header, so errors after the stream started are tested too; PanicCount
// panics.
func (Counter) Count(in *streamingv1.CountRequest, stream grpc.ServerStreamingServer[streamingv1.CountResponse]) error {
	if in.GetTo() == PanicCount {
		panic(PanicSecret)
	}
	if err := stream.SetHeader(metadata.Pairs("x-count", fmt.Sprint(in.GetTo()))); err != nil {
		return err
	}
	if in.GetTo() < 0 {
		if err := stream.Send(&streamingv1.CountResponse{Number: 0}); err != nil {
			return err
		}
		return status.Errorf(codes.InvalidArgument, "cannot count to %d", in.GetTo())
	}
	for i := int64(1); i <= in.GetTo(); i++ {
		if err := stream.Send(&streamingv1.CountResponse{Number: i}); err != nil {
			return err
		}
	}
	stream.SetTrailer(metadata.Pairs("x-counted", fmt.Sprint(in.GetTo())))
	return nil
}
