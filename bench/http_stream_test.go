package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

const (
	sumProcedure  = "/example.streaming.v1.CounterService/Sum"
	echoProcedure = "/example.streaming.v1.CounterService/Echo"
)

// connectStreamHandler is connect-go's handler of the streaming example's
// client-streaming Sum and bidi Echo, written with connect-go's generic
// handlers (the example has no connect-go generated code).
func connectStreamHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(sumProcedure, connect.NewClientStreamHandler(sumProcedure,
		func(_ context.Context, stream *connect.ClientStream[streamingv1.SumRequest]) (*connect.Response[streamingv1.SumResponse], error) {
			var total, count int64
			for stream.Receive() {
				total += stream.Msg().GetNumber()
				count++
			}
			if err := stream.Err(); err != nil {
				return nil, err
			}
			return connect.NewResponse(&streamingv1.SumResponse{Total: total, Count: count}), nil
		}))
	mux.Handle(echoProcedure, connect.NewBidiStreamHandler(echoProcedure,
		func(_ context.Context, stream *connect.BidiStream[streamingv1.EchoRequest, streamingv1.EchoResponse]) error {
			for seq := int64(1); ; seq++ {
				in, err := stream.Receive()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if err := stream.Send(&streamingv1.EchoResponse{Text: in.GetText(), Sequence: seq}); err != nil {
					return err
				}
			}
		}))
	return mux
}

// startH2C serves h over HTTP/1.1 and cleartext HTTP/2.
func startH2C(b *testing.B, h http.Handler) string {
	b.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	b.Cleanup(srv.Close)
	return srv.URL
}

// h2cClient is an HTTP client of its own speaking cleartext HTTP/2.
func h2cClient() *http.Client {
	t := &http.Transport{Protocols: new(http.Protocols)}
	t.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: t}
}

// BenchmarkHTTPClientStream: one client-streaming call of b.N messages,
// through the generated client and through connect-go's client, both to
// the same connect-go server over h2c and binary protobuf. ns/op and
// allocs/op are per message.
func BenchmarkHTTPClientStream(b *testing.B) {
	base := startH2C(b, connectStreamHandler())
	ours, err := httptransport.NewConn(base, httptransport.WithH2C(), httptransport.WithCodec(runtime.ProtoCodec{}))
	if err != nil {
		b.Fatal(err)
	}
	svc := streamingv1svc.NewCounterServiceClient(ours)
	cg := connect.NewClient[streamingv1.SumRequest, streamingv1.SumResponse](h2cClient(), base+sumProcedure)
	req := &streamingv1.SumRequest{Number: 7}
	clients := []struct {
		name string
		run  func(ctx context.Context, n int) (int64, error)
	}{
		{"svcclient", func(ctx context.Context, n int) (int64, error) {
			stream, err := svc.Sum(ctx)
			if err != nil {
				return 0, err
			}
			for range n {
				if err := stream.Send(req); err != nil {
					return 0, err
				}
			}
			resp, err := stream.CloseAndRecv()
			return resp.GetCount(), err
		}},
		{"connect-go", func(ctx context.Context, n int) (int64, error) {
			stream := cg.CallClientStream(ctx)
			for range n {
				if err := stream.Send(req); err != nil {
					return 0, err
				}
			}
			resp, err := stream.CloseAndReceive()
			if err != nil {
				return 0, err
			}
			return resp.Msg.GetCount(), nil
		}},
	}
	for _, c := range clients {
		if _, err := c.run(context.Background(), 100); err != nil {
			b.Fatal(c.name, err)
		}
	}
	for _, c := range clients {
		b.Run("h2c/client="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			count, err := c.run(context.Background(), b.N)
			if err != nil {
				b.Fatal(err)
			}
			if count != int64(b.N) {
				b.Fatalf("the server counted %d messages of %d", count, b.N)
			}
		})
	}
}

// BenchmarkHTTPBidiStream: one bidi call over h2c, each op a message sent
// and its answer received, through the generated client and through
// connect-go's client, to the same connect-go server.
func BenchmarkHTTPBidiStream(b *testing.B) {
	base := startH2C(b, connectStreamHandler())
	ours, err := httptransport.NewConn(base, httptransport.WithH2C(), httptransport.WithCodec(runtime.ProtoCodec{}))
	if err != nil {
		b.Fatal(err)
	}
	svc := streamingv1svc.NewCounterServiceClient(ours)
	cg := connect.NewClient[streamingv1.EchoRequest, streamingv1.EchoResponse](h2cClient(), base+echoProcedure)
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"1KiB", 1 << 10}} {
		req := &streamingv1.EchoRequest{Text: strings.Repeat("x", size.n)}
		clients := []struct {
			name string
			run  func(ctx context.Context, n int) error
		}{
			{"svcclient", func(ctx context.Context, n int) error {
				stream, err := svc.Echo(ctx)
				if err != nil {
					return err
				}
				for range n {
					if err := stream.Send(req); err != nil {
						return err
					}
					if _, err := stream.Recv(); err != nil {
						return err
					}
				}
				if err := stream.CloseSend(); err != nil {
					return err
				}
				if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
					return fmt.Errorf("last Recv: %v", err)
				}
				return nil
			}},
			{"connect-go", func(ctx context.Context, n int) error {
				stream := cg.CallBidiStream(ctx)
				for range n {
					if err := stream.Send(req); err != nil {
						return err
					}
					if _, err := stream.Receive(); err != nil {
						return err
					}
				}
				if err := stream.CloseRequest(); err != nil {
					return err
				}
				if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
					return fmt.Errorf("last Receive: %v", err)
				}
				return stream.CloseResponse()
			}},
		}
		for _, c := range clients {
			if err := c.run(context.Background(), 100); err != nil {
				b.Fatal(c.name, err)
			}
		}
		for _, c := range clients {
			b.Run(fmt.Sprintf("h2c/size=%s/client=%s", size.name, c.name), func(b *testing.B) {
				b.ReportAllocs()
				b.ResetTimer()
				if err := c.run(context.Background(), b.N); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
