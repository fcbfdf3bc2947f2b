package runtime_test

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// countingGreeter counts the requests that reach it and answers with the
// transport-independent greeting, or with fail's error when set.
type countingGreeter struct {
	calls atomic.Int32
	fail  error
}

func (g *countingGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	g.calls.Add(1)
	if g.fail != nil {
		return nil, g.fail
	}
	return &helloworld.HelloReply{Message: "Hello, " + in.GetName()}, nil
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// grpcConn serves svc on a loopback gRPC server (or dials addr if svc is
// nil) and returns a Conn to it.
func grpcConn(t *testing.T, svc *runtime.Service, addr string) grpc.ClientConnInterface {
	t.Helper()
	if svc != nil {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		grpctransport.Register(srv, svc)
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		addr = lis.Addr().String()
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return grpctransport.NewConn(cc)
}

// httpConn serves svc on a loopback HTTP server (or dials addr if svc is
// nil) and returns a Conn to it, speaking HTTP/1.1 (the Conn's options can
// say otherwise).
func httpConn(t *testing.T, svc *runtime.Service, addr string, opts ...httptransport.ClientOption) grpc.ClientConnInterface {
	t.Helper()
	if svc != nil {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := newHTTPServer(httptransport.NewHandler(svc))
		go srv.serve(lis)
		t.Cleanup(srv.close)
		addr = lis.Addr().String()
	}
	conn, err := httptransport.NewConn("http://"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFallbackMovesOnWhenNotSent(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first       func(t *testing.T) grpc.ClientConnInterface
		firstAnswer string
	}{
		{"grpc refused", func(t *testing.T) grpc.ClientConnInterface { return grpcConn(t, nil, deadAddress(t)) }, grpctransport.Name},
		{"http refused", func(t *testing.T) grpc.ClientConnInterface { return httpConn(t, nil, deadAddress(t)) }, httptransport.Name},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &countingGreeter{}
			svc := helloworldsvc.NewGreeterService(g)
			second := httpConn(t, svc, "")
			if tc.firstAnswer == httptransport.Name {
				second = grpcConn(t, svc, "")
			}
			client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(tc.first(t), second))
			var answeredBy string
			var finished atomic.Int32
			// SayHello is not idempotent: it may move on only because the
			// first transport provably sent nothing.
			reply, err := client.SayHello(ctxFor(t), &helloworld.HelloRequest{Name: "Ada"},
				runtime.AnsweredBy(&answeredBy), grpc.OnFinish(func(error) { finished.Add(1) }))
			if err != nil {
				t.Fatal(err)
			}
			if reply.GetMessage() != "Hello, Ada" {
				t.Errorf("reply = %q", reply.GetMessage())
			}
			want := httptransport.Name
			if tc.firstAnswer == httptransport.Name {
				want = grpctransport.Name
			}
			if answeredBy != want {
				t.Errorf("AnsweredBy = %q, want %q", answeredBy, want)
			}
			if n := g.calls.Load(); n != 1 {
				t.Errorf("the service saw %d requests, want 1", n)
			}
			if n := finished.Load(); n != 1 {
				t.Errorf("OnFinish ran %d times, want 1", n)
			}
		})
	}
}

// A request that reached the service and failed is not sent again to a
// method that is not idempotent, whatever the code.
func TestFallbackNeverRepeatsNonIdempotent(t *testing.T) {
	g := &countingGreeter{fail: status.Error(codes.Unavailable, "overloaded")}
	other := &countingGreeter{}
	client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(
		grpcConn(t, helloworldsvc.NewGreeterService(g), ""),
		httpConn(t, helloworldsvc.NewGreeterService(other), ""),
	))
	var answeredBy string
	_, err := client.SayHello(ctxFor(t), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&answeredBy))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want the first transport's Unavailable", err)
	}
	if g.calls.Load() != 1 || other.calls.Load() != 0 {
		t.Errorf("calls: first %d, second %d; want 1 and 0", g.calls.Load(), other.calls.Load())
	}
	if answeredBy != grpctransport.Name {
		t.Errorf("AnsweredBy = %q, want grpc", answeredBy)
	}
}

// countingUsers counts DeleteUser calls, a method marked IDEMPOTENT in
// users.proto, and answers with fail's error when set.
type countingUsers struct {
	usersv1svc.UnimplementedUserServiceServer
	calls atomic.Int32
	fail  error
}

func (u *countingUsers) DeleteUser(context.Context, *usersv1.DeleteUserRequest) (*emptypb.Empty, error) {
	u.calls.Add(1)
	if u.fail != nil {
		return nil, u.fail
	}
	return &emptypb.Empty{}, nil
}

func TestFallbackRepeatsIdempotent(t *testing.T) {
	first := &countingUsers{fail: status.Error(codes.Unavailable, "overloaded")}
	second := &countingUsers{}
	client := usersv1svc.NewUserServiceClient(runtime.NewFallbackConn(
		grpcConn(t, usersv1svc.NewUserServiceService(first), ""),
		httpConn(t, usersv1svc.NewUserServiceService(second), ""),
	))
	var answeredBy string
	req := &usersv1.DeleteUserRequest{UserId: "u1"}
	if _, err := client.DeleteUser(ctxFor(t), req, runtime.AnsweredBy(&answeredBy)); err != nil {
		t.Fatal(err)
	}
	if first.calls.Load() != 1 || second.calls.Load() != 1 || answeredBy != httptransport.Name {
		t.Errorf("calls: first %d, second %d, answered by %q; want 1, 1, http", first.calls.Load(), second.calls.Load(), answeredBy)
	}
	// Other codes are the service's answer, not a missing transport.
	first.fail = status.Error(codes.NotFound, "no")
	_, err := client.DeleteUser(ctxFor(t), req)
	if status.Code(err) != codes.NotFound || second.calls.Load() != 1 {
		t.Errorf("err = %v, second saw %d calls; want NotFound and no new call", err, second.calls.Load())
	}
}

func TestFallbackAllFail(t *testing.T) {
	client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(
		grpcConn(t, nil, deadAddress(t)),
		httpConn(t, nil, deadAddress(t)),
	))
	var finished atomic.Int32
	_, err := client.SayHello(ctxFor(t), &helloworld.HelloRequest{Name: "Ada"}, grpc.OnFinish(func(error) { finished.Add(1) }))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if finished.Load() != 1 {
		t.Errorf("OnFinish ran %d times, want 1", finished.Load())
	}
	_, err = helloworldsvc.NewGreeterClient(runtime.NewFallbackConn()).SayHello(ctxFor(t), &helloworld.HelloRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("no transports: err = %v, want Unavailable", err)
	}
}

type counter struct {
	streamingv1svc.UnimplementedCounterServiceServer
	calls atomic.Int32
}

func (c *counter) Count(in *streamingv1.CountRequest, stream grpc.ServerStreamingServer[streamingv1.CountResponse]) error {
	c.calls.Add(1)
	for i := int64(1); i <= in.GetTo(); i++ {
		if err := stream.Send(&streamingv1.CountResponse{Number: i}); err != nil {
			return err
		}
	}
	return nil
}

func (c *counter) Sum(stream grpc.ClientStreamingServer[streamingv1.SumRequest, streamingv1.SumResponse]) error {
	c.calls.Add(1)
	var total int64
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&streamingv1.SumResponse{Total: total})
		}
		if err != nil {
			return err
		}
		total += in.GetNumber()
	}
}

func (c *counter) Echo(stream grpc.BidiStreamingServer[streamingv1.EchoRequest, streamingv1.EchoResponse]) error {
	c.calls.Add(1)
	for seq := int64(1); ; seq++ {
		in, err := stream.Recv()
		if err == io.EOF {
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

func TestFallbackStreams(t *testing.T) {
	c := &counter{}
	svc := streamingv1svc.NewCounterServiceService(c)
	// Server streaming: HTTP refused, then gRPC.
	client := streamingv1svc.NewCounterServiceClient(runtime.NewFallbackConn(httpConn(t, nil, deadAddress(t)), grpcConn(t, svc, "")))
	var answeredBy string
	stream, err := client.Count(ctxFor(t), &streamingv1.CountRequest{To: 3}, runtime.AnsweredBy(&answeredBy))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msg.GetNumber())
	}
	if len(got) != 3 || answeredBy != grpctransport.Name || c.calls.Load() != 1 {
		t.Errorf("got %v answered by %q after %d calls; want [1 2 3] by grpc after 1", got, answeredBy, c.calls.Load())
	}
	// Client streaming: HTTP refused, so the call moves to gRPC before
	// sending anything.
	client = streamingv1svc.NewCounterServiceClient(runtime.NewFallbackConn(httpConn(t, nil, deadAddress(t)), grpcConn(t, svc, "")))
	if total, by := sumOver(t, client); total != 10 || by != grpctransport.Name {
		t.Errorf("total %d answered by %q, want 10 by grpc", total, by)
	}
}

// sumOver runs a client-streaming call of 1+2+3+4 over client and returns
// the total and the transport that answered.
func sumOver(t *testing.T, client streamingv1svc.CounterServiceClient) (total int64, answeredBy string) {
	t.Helper()
	sum, err := client.Sum(ctxFor(t), runtime.AnsweredBy(&answeredBy))
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 4; i++ {
		if err := sum.Send(&streamingv1.SumRequest{Number: i}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := sum.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return res.GetTotal(), answeredBy
}

// TestFallbackHTTPCarriesEveryKind checks that when gRPC cannot be
// reached, HTTP carries every kind of call: unary and server streaming,
// client streaming over HTTP/1.1 and HTTP/2, bidi over h2c.
func TestFallbackHTTPCarriesEveryKind(t *testing.T) {
	c := &counter{}
	svc := streamingv1svc.NewCounterServiceService(c)
	for _, tc := range []struct {
		name string
		opts []httptransport.ClientOption
		bidi bool
	}{
		{"http1", nil, false},
		{"h2c", []httptransport.ClientOption{httptransport.WithH2C()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := streamingv1svc.NewCounterServiceClient(runtime.NewFallbackConn(grpcConn(t, nil, deadAddress(t)), httpConn(t, svc, "", tc.opts...)))
			var answeredBy string
			stream, err := client.Count(ctxFor(t), &streamingv1.CountRequest{To: 2}, runtime.AnsweredBy(&answeredBy))
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := stream.Recv(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if answeredBy != httptransport.Name {
				t.Errorf("server stream answered by %q", answeredBy)
			}
			if total, by := sumOver(t, client); total != 10 || by != httptransport.Name {
				t.Errorf("client stream: total %d answered by %q, want 10 by http", total, by)
			}
			if !tc.bidi {
				return
			}
			echo, err := client.Echo(ctxFor(t), runtime.AnsweredBy(&answeredBy))
			if err != nil {
				t.Fatal(err)
			}
			if err := echo.Send(&streamingv1.EchoRequest{Text: "hi"}); err != nil {
				t.Fatal(err)
			}
			if resp, err := echo.Recv(); err != nil || resp.GetText() != "hi" {
				t.Fatalf("Echo = %v, %v", resp, err)
			}
			if err := echo.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := echo.Recv(); err != io.EOF {
				t.Fatalf("last Recv = %v, want io.EOF", err)
			}
			if answeredBy != httptransport.Name {
				t.Errorf("bidi stream answered by %q", answeredBy)
			}
		})
	}
}

// reportingConn is a connection that reports whether its server is
// serving, as health.Conn does.
type reportingConn struct {
	grpc.ClientConnInterface
	serving bool
}

func (c reportingConn) Serving() bool { return c.serving }

// TestFallbackTriesNotServingLast: a connection that reports not serving
// is tried after the others, and still tried when it is all there is.
func TestFallbackTriesNotServingLast(t *testing.T) {
	first, second, third := &countingGreeter{}, &countingGreeter{}, &countingGreeter{}
	conn := func(g *countingGreeter, serving bool) grpc.ClientConnInterface {
		return reportingConn{runtime.NewInProcessConn(helloworldsvc.NewGreeterService(g)), serving}
	}
	for _, tc := range []struct {
		name    string
		serving [3]bool
		want    *countingGreeter
	}{
		{"first not serving", [3]bool{false, true, true}, second},
		{"first two not serving", [3]bool{false, false, true}, third},
		{"none serving: in order", [3]bool{false, false, false}, first},
		{"all serving", [3]bool{true, true, true}, first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, g := range []*countingGreeter{first, second, third} {
				g.calls.Store(0)
			}
			client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(
				conn(first, tc.serving[0]), conn(second, tc.serving[1]), conn(third, tc.serving[2])))
			if _, err := client.SayHello(ctxFor(t), &helloworld.HelloRequest{Name: "Ada"}); err != nil {
				t.Fatal(err)
			}
			for i, g := range []*countingGreeter{first, second, third} {
				want := int32(0)
				if g == tc.want {
					want = 1
				}
				if got := g.calls.Load(); got != want {
					t.Errorf("connection %d saw %d calls, want %d", i, got, want)
				}
			}
		})
	}
}

// TestFallbackNotServingStillTried: a connection moved last because it
// reports not serving is still tried when the serving one cannot carry
// the call.
func TestFallbackNotServingStillTried(t *testing.T) {
	g := &countingGreeter{}
	svc := helloworldsvc.NewGreeterService(g)
	conns := runtime.NewFallbackConn(
		reportingConn{runtime.NewInProcessConn(svc), false},
		grpcConn(t, nil, deadAddress(t)),
	)
	var answeredBy string
	_, err := helloworldsvc.NewGreeterClient(conns).SayHello(ctxFor(t), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&answeredBy))
	if err != nil || answeredBy != "inprocess" || g.calls.Load() != 1 {
		t.Errorf("err %v, answered by %q, calls %d; want the not-serving in-process connection to answer after gRPC was refused", err, answeredBy, g.calls.Load())
	}
}

// TestFallbackStreamTriesNotServingLast: streams follow the same order.
func TestFallbackStreamTriesNotServingLast(t *testing.T) {
	down, up := &counter{}, &counter{}
	client := streamingv1svc.NewCounterServiceClient(runtime.NewFallbackConn(
		reportingConn{runtime.NewInProcessConn(streamingv1svc.NewCounterServiceService(down)), false},
		reportingConn{runtime.NewInProcessConn(streamingv1svc.NewCounterServiceService(up)), true},
	))
	stream, err := client.Count(ctxFor(t), &streamingv1.CountRequest{To: 2})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	sum, err := client.Sum(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sum.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if down.calls.Load() != 0 || up.calls.Load() != 2 {
		t.Errorf("calls: not serving %d, serving %d; want 0 and 2", down.calls.Load(), up.calls.Load())
	}
}
