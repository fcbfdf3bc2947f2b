package runtime

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// CallServerStream opens a server-streaming call, sends its one request and
// closes the send side. Generated clients call it.
func CallServerStream[Req, Res any](ctx context.Context, conn Conn, m *MethodDesc, in proto.Message, opts []grpc.CallOption) (grpc.ServerStreamingClient[Res], error) {
	stream, err := conn.NewStream(ctx, m, opts...)
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Res]{ClientStream: stream}, nil
}

// CallClientStream opens a client-streaming call. Generated clients call it.
func CallClientStream[Req, Res any](ctx context.Context, conn Conn, m *MethodDesc, opts []grpc.CallOption) (grpc.ClientStreamingClient[Req, Res], error) {
	stream, err := conn.NewStream(ctx, m, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Res]{ClientStream: stream}, nil
}

// CallBidiStream opens a bidirectional streaming call. Generated clients
// call it.
func CallBidiStream[Req, Res any](ctx context.Context, conn Conn, m *MethodDesc, opts []grpc.CallOption) (grpc.BidiStreamingClient[Req, Res], error) {
	stream, err := conn.NewStream(ctx, m, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[Req, Res]{ClientStream: stream}, nil
}

// HandleServerStream receives a server-streaming call's one request and
// passes it to method with a typed stream. Generated service descriptions
// call it.
func HandleServerStream[Req, Res any](stream grpc.ServerStream, method func(*Req, grpc.ServerStreamingServer[Res]) error) error {
	in := new(Req)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	return method(in, &grpc.GenericServerStream[Req, Res]{ServerStream: stream})
}

// HandleClientStream passes a client-streaming call to method with a typed
// stream.
func HandleClientStream[Req, Res any](stream grpc.ServerStream, method func(grpc.ClientStreamingServer[Req, Res]) error) error {
	return method(&grpc.GenericServerStream[Req, Res]{ServerStream: stream})
}

// HandleBidiStream passes a bidirectional streaming call to method with a
// typed stream.
func HandleBidiStream[Req, Res any](stream grpc.ServerStream, method func(grpc.BidiStreamingServer[Req, Res]) error) error {
	return method(&grpc.GenericServerStream[Req, Res]{ServerStream: stream})
}
