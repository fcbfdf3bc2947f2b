package httptransport

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/runtime/transport"
)

// webCounter streams 1..to with a header and a trailer; a negative to
// fails after one message.
type webCounter struct {
	streamingv1.UnimplementedCounterServiceServer
}

func (webCounter) Count(in *streamingv1.CountRequest, stream grpc.ServerStreamingServer[streamingv1.CountResponse]) error {
	_ = stream.SetHeader(metadata.Pairs("x-count", "yes"))
	if in.GetTo() < 0 {
		_ = stream.Send(&streamingv1.CountResponse{})
		return status.Error(codes.OutOfRange, "negative")
	}
	for i := int64(1); i <= in.GetTo(); i++ {
		if err := stream.Send(&streamingv1.CountResponse{Number: i}); err != nil {
			return err
		}
	}
	stream.SetTrailer(metadata.Pairs("x-done", "yes"))
	return nil
}

// TestGRPCWebClientStream reads server streams over gRPC-Web through the
// stream WithGRPCWeb opens (newGRPCWebStream), over HTTP/1.1.
func TestGRPCWebClientStream(t *testing.T) {
	h := NewHandler(nil)
	streamingv1.RegisterCounterServiceServer(h, webCounter{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	conn, err := NewConn(srv.URL, WithGRPCWeb())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc := &streamingv1.CounterService_ServiceDesc.Streams[0]
	open := func(to int64) grpc.ServerStreamingClient[streamingv1.CountResponse] {
		cs, err := conn.newGRPCWebStream(ctx, desc, streamingv1.CounterService_Count_FullMethodName, transport.ReadCallOptions(nil), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(&streamingv1.CountRequest{To: to}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		return &grpc.GenericClientStream[streamingv1.CountRequest, streamingv1.CountResponse]{ClientStream: cs}
	}

	stream := open(3)
	var got []int64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.GetNumber())
	}
	if len(got) != 3 || got[2] != 3 {
		t.Errorf("numbers %v", got)
	}
	if hdr, _ := stream.Header(); len(hdr.Get("x-count")) != 1 {
		t.Errorf("header %v", hdr)
	}
	if tr := stream.Trailer(); len(tr.Get("x-done")) != 1 || len(tr.Get("grpc-status")) != 0 {
		t.Errorf("trailer %v", tr)
	}

	stream = open(-1)
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.OutOfRange {
		t.Errorf("Recv after the failure = %v, want OutOfRange", err)
	}

	// Client and bidi streaming are refused before anything is sent.
	if _, err := conn.newGRPCWebStream(ctx, &streamingv1.CounterService_ServiceDesc.Streams[1], streamingv1.CounterService_Sum_FullMethodName, transport.ReadCallOptions(nil), ""); status.Code(err) != codes.Unimplemented {
		t.Errorf("Sum over gRPC-Web = %v, want Unimplemented", err)
	}
}
