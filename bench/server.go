package bench

import (
	"context"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	benchv1 "github.com/svcclient/svcclient/bench/gen/bench/v1"
)

// Impl is the one implementation every server in the suite serves. It is
// written the protoc-gen-go-grpc way, so grpc-go, grpc-gateway and svcclient
// serve it unchanged; ConnectHandler adapts it for connect-go.
type Impl struct {
	benchv1.UnimplementedBenchServiceServer
}

// Echo returns its request.
func (Impl) Echo(_ context.Context, in *benchv1.Payload) (*benchv1.Payload, error) {
	return in, nil
}

// Stream sends Count payloads of Size bytes.
func (Impl) Stream(in *benchv1.StreamRequest, stream grpc.ServerStreamingServer[benchv1.Payload]) error {
	if in.GetCount() < 0 || in.GetSize() < 0 {
		return status.Error(codes.InvalidArgument, "count and size must not be negative")
	}
	msg := &benchv1.Payload{Data: make([]byte, in.GetSize())}
	for i := int32(0); i < in.GetCount(); i++ {
		msg.Id = int64(i)
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// GetItem returns a payload of Size bytes named after the request.
func (Impl) GetItem(_ context.Context, in *benchv1.GetItemRequest) (*benchv1.Payload, error) {
	return &benchv1.Payload{Id: int64(in.GetLimit()), Text: in.GetId() + "/" + in.GetFilter(), Data: payloadBytes(int(in.GetSize()))}, nil
}

// PutItem returns the payload it was given.
func (Impl) PutItem(_ context.Context, in *benchv1.PutItemRequest) (*benchv1.Payload, error) {
	return in.GetPayload(), nil
}

var zeros = make([]byte, 1<<20)

func payloadBytes(n int) []byte {
	if n > len(zeros) {
		n = len(zeros)
	}
	return zeros[:n]
}

// Message returns a payload whose binary encoding is size bytes (for sizes
// of 32 and more).
func Message(size int) *benchv1.Payload {
	const overhead = 2 + 2 + 16 + 3 // id, text's tag and length, text, data's tag and length
	return &benchv1.Payload{Id: 42, Text: strings.Repeat("x", 16), Data: make([]byte, max(size-overhead, 0))}
}

// Sizes are the two payloads every benchmark runs with.
var Sizes = []struct {
	Name  string
	Bytes int
}{
	{"100B", 100},
	{"16KiB", 16 << 10},
}

// ConnectHandler serves Impl through connect-go's generated handler.
type ConnectHandler struct {
	Impl Impl
}

func (h ConnectHandler) Echo(ctx context.Context, req *connect.Request[benchv1.Payload]) (*connect.Response[benchv1.Payload], error) {
	out, err := h.Impl.Echo(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (h ConnectHandler) Stream(ctx context.Context, req *connect.Request[benchv1.StreamRequest], stream *connect.ServerStream[benchv1.Payload]) error {
	msg := &benchv1.Payload{Data: make([]byte, req.Msg.GetSize())}
	for i := int32(0); i < req.Msg.GetCount(); i++ {
		msg.Id = int64(i)
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

func (h ConnectHandler) GetItem(ctx context.Context, req *connect.Request[benchv1.GetItemRequest]) (*connect.Response[benchv1.Payload], error) {
	out, err := h.Impl.GetItem(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (h ConnectHandler) PutItem(ctx context.Context, req *connect.Request[benchv1.PutItemRequest]) (*connect.Response[benchv1.Payload], error) {
	out, err := h.Impl.PutItem(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}
