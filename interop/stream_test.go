package interop_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/interop/gen/streaming/v1/streamingv1connect"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// TestClientStreamsAgainstConnectGo: our client's client and bidi streams
// against connect-go's handler, over HTTP/1.1 (client streaming) and h2c
// (both), plain and gzip-compressed both ways.
func TestClientStreamsAgainstConnectGo(t *testing.T) {
	base := connectServer(t)
	big := strings.Repeat("x", 4<<10) // above the 1 KiB compression minimum
	for name, opts := range map[string][]httptransport.ClientOption{
		"http1/json":  nil,
		"h2c/proto":   {httptransport.WithH2C(), httptransport.WithCodec(runtime.ProtoCodec{})},
		"h2c/json/gz": {httptransport.WithH2C(), httptransport.WithCompression("gzip")},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			counter := streamingv1svc.NewCounterServiceClient(dial(t, base, append(opts, httptransport.WithConnectRoutes())...))
			sum, err := counter.Sum(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := int64(1); i <= 10; i++ {
				if err := sum.Send(&streamingv1.SumRequest{Number: i}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := sum.CloseAndRecv()
			if err != nil || res.GetTotal() != 55 || res.GetCount() != 10 {
				t.Fatalf("Sum = %v, %v; want 55 of 10", res, err)
			}
			if got := sum.Trailer().Get("x-summed"); !slices.Equal(got, []string{"yes"}) {
				t.Errorf("Sum trailer x-summed = %v", got)
			}
			if !strings.HasPrefix(name, "h2c") {
				return
			}
			echo, err := counter.Echo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range []string{"one", big, "three"} {
				if err := echo.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
					t.Fatal(err)
				}
				resp, err := echo.Recv()
				if err != nil || resp.GetText() != text || resp.GetSequence() != int64(i+1) {
					t.Fatalf("Echo %d = %.40v, %v", i, resp, err)
				}
			}
			if err := echo.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := echo.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("last Recv = %v, want io.EOF", err)
			}
		})
	}
}

// TestConnectGoStreamsAgainstHandler: connect-go's client and bidi
// streams against our handler over h2c, plain and gzip-compressed (connect-go
// compresses requests with WithSendGzip and always accepts gzip answers).
func TestConnectGoStreamsAgainstHandler(t *testing.T) {
	base := serveHTTP(t, httptransport.NewHandler(streamingv1svc.NewCounterServiceService(conformance.Counter{})))
	big := strings.Repeat("y", 4<<10)
	for name, opts := range map[string][]connect.ClientOption{
		"proto":    nil,
		"json":     {connect.WithProtoJSON()},
		"proto/gz": {connect.WithSendGzip()},
		"json/gz":  {connect.WithProtoJSON(), connect.WithSendGzip()},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			counter := streamingv1connect.NewCounterServiceClient(h2cClient(), base, opts...)
			sum := counter.Sum(ctx)
			for i := int64(1); i <= 10; i++ {
				if err := sum.Send(&streamingv1.SumRequest{Number: i}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := sum.CloseAndReceive()
			if err != nil || res.Msg.GetTotal() != 55 || res.Msg.GetCount() != 10 {
				t.Fatalf("Sum = %v, %v; want 55 of 10", res, err)
			}
			echo := counter.Echo(ctx)
			for i, text := range []string{"one", big, "three"} {
				if err := echo.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
					t.Fatal(err)
				}
				resp, err := echo.Receive()
				if err != nil || resp.GetText() != text || resp.GetSequence() != int64(i+1) {
					t.Fatalf("Echo %d = %.40v, %v", i, resp, err)
				}
			}
			if err := echo.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := echo.Receive(); !errors.Is(err, io.EOF) {
				t.Fatalf("last Receive = %v, want io.EOF", err)
			}
			if err := echo.CloseResponse(); err != nil {
				t.Fatal(err)
			}
			if name == "proto/gz" || name == "json/gz" {
				if enc := echo.ResponseHeader().Get("Connect-Content-Encoding"); enc != "gzip" {
					t.Errorf("the handler answered in encoding %q, want gzip", enc)
				}
			}
		})
	}
}
