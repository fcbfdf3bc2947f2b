package interop_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/interop/gen/helloworld/helloworldconnect"
	"github.com/svcclient/svcclient/interop/gen/streaming/v1/streamingv1connect"
	usersgw "github.com/svcclient/svcclient/interop/gen/users/v1"
	"github.com/svcclient/svcclient/interop/gen/users/v1/usersv1connect"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// listen returns a loopback listener closed when the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// serveHTTP serves h on loopback, over HTTP/1.1 and cleartext HTTP/2
// (h2c), until the test ends and returns its URL.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	lis := listen(t)
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: protocols}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + lis.Addr().String()
}

func svcclientServer(t *testing.T) string {
	return serveHTTP(t, httptransport.NewHandler(usersv1svc.NewUserServiceService(conformance.EchoUsers{})))
}

// gatewayServer serves users the grpc-gateway way: a grpc-go server on
// loopback, and grpc-gateway's mux in front of it.
func gatewayServer(t *testing.T, opts ...gwruntime.ServeMuxOption) string {
	t.Helper()
	lis := listen(t)
	srv := grpc.NewServer()
	usersv1.RegisterUserServiceServer(srv, conformance.EchoUsers{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	// Since v2.33 grpc-gateway forwards Grpc-Metadata-* request headers
	// only with the legacy matcher; a deployment that passes metadata opts
	// in the same way.
	opts = append([]gwruntime.ServeMuxOption{gwruntime.WithIncomingHeaderMatcher(gwruntime.LegacyHeaderMatcher)}, opts...)
	mux := gwruntime.NewServeMux(opts...)
	if err := usersgw.RegisterUserServiceHandler(context.Background(), mux, cc); err != nil {
		t.Fatal(err)
	}
	return serveHTTP(t, mux)
}

// connectGreeter is the conformance Greeter's behaviour, written for
// connect-go: "error" fails NotFound with an ErrorInfo, "metadata" echoes
// X-Request-Id and sets trailer X-Trailer, "deadline" reports whether the
// context has one.
type connectGreeter struct{}

func (connectGreeter) SayHello(ctx context.Context, req *connect.Request[helloworld.HelloRequest]) (*connect.Response[helloworld.HelloReply], error) {
	switch req.Msg.GetName() {
	case "error":
		err := connect.NewError(connect.CodeNotFound, errors.New("no such name"))
		detail, _ := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: "NAME_UNKNOWN", Domain: "svcclient.test"})
		err.AddDetail(detail)
		return nil, err
	case "metadata":
		resp := connect.NewResponse(&helloworld.HelloReply{Message: req.Header().Get("X-Request-Id")})
		resp.Header().Set("X-Echo", req.Header().Get("X-Request-Id"))
		resp.Trailer().Set("X-Trailer", "done")
		return resp, nil
	case "deadline":
		_, ok := ctx.Deadline()
		return connect.NewResponse(&helloworld.HelloReply{Message: map[bool]string{true: "deadline:true", false: "deadline:false"}[ok]}), nil
	}
	return connect.NewResponse(&helloworld.HelloReply{Message: "Hello, " + req.Msg.GetName()}), nil
}

type connectCounter struct {
	streamingv1connect.UnimplementedCounterServiceHandler
}

func (connectCounter) Count(_ context.Context, req *connect.Request[streamingv1.CountRequest], stream *connect.ServerStream[streamingv1.CountResponse]) error {
	if req.Msg.GetTo() < 0 {
		_ = stream.Send(&streamingv1.CountResponse{})
		return connect.NewError(connect.CodeInvalidArgument, errors.New("negative"))
	}
	for i := int64(1); i <= req.Msg.GetTo(); i++ {
		if err := stream.Send(&streamingv1.CountResponse{Number: i}); err != nil {
			return err
		}
	}
	stream.ResponseTrailer().Set("X-Counted", "yes")
	return nil
}

func (connectCounter) Sum(_ context.Context, stream *connect.ClientStream[streamingv1.SumRequest]) (*connect.Response[streamingv1.SumResponse], error) {
	var total, count int64
	for stream.Receive() {
		total += stream.Msg().GetNumber()
		count++
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	resp := connect.NewResponse(&streamingv1.SumResponse{Total: total, Count: count})
	resp.Trailer().Set("X-Summed", "yes")
	return resp, nil
}

func (connectCounter) Echo(_ context.Context, stream *connect.BidiStream[streamingv1.EchoRequest, streamingv1.EchoResponse]) error {
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
}

type connectUsers struct {
	usersv1connect.UnimplementedUserServiceHandler
}

func (connectUsers) ListUsers(_ context.Context, req *connect.Request[usersv1.ListUsersRequest]) (*connect.Response[usersv1.ListUsersResponse], error) {
	b, err := protojson.Marshal(req.Msg)
	return connect.NewResponse(&usersv1.ListUsersResponse{NextPageToken: string(b)}), err
}

// connectServer serves the Greeter, CounterService and part of UserService
// with connect-go's handlers.
func connectServer(t *testing.T) string {
	mux := http.NewServeMux()
	mux.Handle(helloworldconnect.NewGreeterHandler(connectGreeter{}))
	mux.Handle(streamingv1connect.NewCounterServiceHandler(connectCounter{}))
	mux.Handle(usersv1connect.NewUserServiceHandler(connectUsers{}))
	return serveHTTP(t, mux)
}

func dial(t *testing.T, baseURL string, opts ...httptransport.ClientOption) grpc.ClientConnInterface {
	t.Helper()
	conn, err := httptransport.NewConn(baseURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
