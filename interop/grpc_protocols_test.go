package interop_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/interop/gen/helloworld/helloworldconnect"
	"github.com/svcclient/svcclient/interop/gen/streaming/v1/streamingv1connect"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// serveH2C serves h over HTTP/1.1 and cleartext HTTP/2 until the test
// ends and returns its URL.
func serveH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	lis := listen(t)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + lis.Addr().String()
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// TestGRPCWebClientAgainstConnectGo calls connect-go's handlers, which
// speak gRPC-Web, with a Conn speaking gRPC-Web over HTTP/1.1.
func TestGRPCWebClientAgainstConnectGo(t *testing.T) {
	base := connectServer(t)
	for name, opts := range map[string][]httptransport.ClientOption{
		"proto": {httptransport.WithCodec(runtime.ProtoCodec{})},
		"json":  nil,
	} {
		t.Run(name, func(t *testing.T) {
			greeter := helloworldsvc.NewGreeterClient(dial(t, base, append(opts, httptransport.WithGRPCWeb())...))
			ctx := testContext(t)
			reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"})
			if err != nil || reply.GetMessage() != "Hello, Ada" {
				t.Fatalf("SayHello = %v, %v", reply, err)
			}
			_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "error"})
			st := wantCode(t, err, codes.NotFound)
			if d := st.Details(); len(d) != 1 || d[0].(*errdetails.ErrorInfo).GetReason() != "NAME_UNKNOWN" || st.Message() != "no such name" {
				t.Errorf("status %q details %v, want connect-go's ErrorInfo", st.Message(), d)
			}
			var header, trailer metadata.MD
			mdCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "r-1")
			reply, err = greeter.SayHello(mdCtx, &helloworld.HelloRequest{Name: "metadata"}, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil || reply.GetMessage() != "r-1" || !slices.Equal(header.Get("x-echo"), []string{"r-1"}) || !slices.Equal(trailer.Get("x-trailer"), []string{"done"}) {
				t.Errorf("metadata: reply %v err %v header %v trailer %v", reply, err, header, trailer)
			}
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if reply, err := greeter.SayHello(dctx, &helloworld.HelloRequest{Name: "deadline"}); err != nil || reply.GetMessage() != "deadline:true" {
				t.Errorf("deadline: %v %v", reply, err)
			}
		})
	}
}

// TestConnectGoGRPCClientsAgainstHandler calls our handler with
// connect-go's gRPC client (h2c) and gRPC-Web client (HTTP/1.1), every
// call kind each protocol has.
func TestConnectGoGRPCClientsAgainstHandler(t *testing.T) {
	h := httptransport.NewHandler(helloworldsvc.NewGreeterService(conformance.Greeter{}))
	h.Register(streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	base := serveH2C(t, h)
	for name, tc := range map[string]struct {
		client *http.Client
		opts   []connect.ClientOption
		duplex bool
	}{
		"grpc":          {h2cClient(), []connect.ClientOption{connect.WithGRPC()}, true},
		"grpc json":     {h2cClient(), []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()}, true},
		"grpc gzip":     {h2cClient(), []connect.ClientOption{connect.WithGRPC(), connect.WithSendGzip()}, true},
		"grpc-web":      {http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb()}, false},
		"grpc-web json": {http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}, false},
		"grpc-web gzip": {http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb(), connect.WithSendGzip()}, false},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			greeter := helloworldconnect.NewGreeterClient(tc.client, base, tc.opts...)
			resp, err := greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "Ada"}))
			if err != nil || resp.Msg.GetMessage() != "Hello, Ada" {
				t.Fatalf("SayHello = %v, %v", resp, err)
			}
			_, err = greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "error"}))
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeNotFound || len(cerr.Details()) != 1 || cerr.Message() != "no such name" {
				t.Fatalf("error = %v, want not_found with one detail", err)
			}
			req := connect.NewRequest(&helloworld.HelloRequest{Name: "metadata"})
			req.Header().Set("X-Request-Id", "m1")
			resp, err = greeter.SayHello(ctx, req)
			if err != nil || resp.Header().Get("X-Echo") != "m1" || resp.Trailer().Get("X-Trailer") != "done" {
				t.Errorf("metadata: %v, header %v, trailer %v", err, resp.Header(), resp.Trailer())
			}

			counter := streamingv1connect.NewCounterServiceClient(tc.client, base, tc.opts...)
			stream, err := counter.Count(ctx, connect.NewRequest(&streamingv1.CountRequest{To: 3}))
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for stream.Receive() {
				got = append(got, stream.Msg().GetNumber())
			}
			if err := stream.Err(); err != nil || !slices.Equal(got, []int64{1, 2, 3}) || stream.ResponseTrailer().Get("X-Counted") != "3" {
				t.Errorf("Count: %v, %v, trailer %v", got, err, stream.ResponseTrailer())
			}
			if !tc.duplex {
				return
			}
			sum := counter.Sum(ctx)
			for i := int64(1); i <= 3; i++ {
				if err := sum.Send(&streamingv1.SumRequest{Number: i}); err != nil {
					t.Fatal(err)
				}
			}
			total, err := sum.CloseAndReceive()
			if err != nil || total.Msg.GetTotal() != 6 {
				t.Fatalf("Sum = %v, %v", total, err)
			}
			echo := counter.Echo(ctx)
			for _, text := range []string{"x", "y"} {
				if err := echo.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
					t.Fatal(err)
				}
				m, err := echo.Receive()
				if err != nil || m.GetText() != text {
					t.Fatalf("Echo = %v, %v", m, err)
				}
			}
			_ = echo.CloseRequest()
			if _, err := echo.Receive(); !errors.Is(err, io.EOF) {
				t.Errorf("Echo after CloseRequest = %v, want io.EOF", err)
			}
			_ = echo.CloseResponse()
		})
	}
}
