package runtime

import (
	"context"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/runtime/transport"
)

// The functions below open the streams of generated clients. They do what
// protoc-gen-go-grpc prints into every streaming method, once.

// CallServerStream opens a server-streaming call and sends its request.
func CallServerStream[Req, Res any](ctx context.Context, conn grpc.ClientConnInterface, fullMethod string, in *Req, opts ...grpc.CallOption) (grpc.ServerStreamingClient[Res], error) {
	stream, err := conn.NewStream(ctx, transport.StreamDesc(transport.ServerStream), fullMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[Req, Res]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// CallClientStream opens a client-streaming call.
func CallClientStream[Req, Res any](ctx context.Context, conn grpc.ClientConnInterface, fullMethod string, opts ...grpc.CallOption) (grpc.ClientStreamingClient[Req, Res], error) {
	stream, err := conn.NewStream(ctx, transport.StreamDesc(transport.ClientStream), fullMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Res]{ClientStream: stream}, nil
}

// CallBidiStream opens a bidi-streaming call.
func CallBidiStream[Req, Res any](ctx context.Context, conn grpc.ClientConnInterface, fullMethod string, opts ...grpc.CallOption) (grpc.BidiStreamingClient[Req, Res], error) {
	stream, err := conn.NewStream(ctx, transport.StreamDesc(transport.BidiStream), fullMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Res]{ClientStream: stream}, nil
}
