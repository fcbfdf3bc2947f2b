package health_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// greeterName is the service whose health the tests follow.
const greeterName = "helloworld.Greeter"

// countingGreeter counts the requests that reach it.
type countingGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
	calls atomic.Int32
}

func (g *countingGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	g.calls.Add(1)
	return &helloworld.HelloReply{Message: "Hello, " + in.GetName()}, nil
}

// transportCase serves services over one transport and returns a
// connection to them.
type transportCase struct {
	name    string // as runtime.AnsweredBy reports it
	streams bool   // carries server streams
	serve   func(tb testing.TB, svcs ...*runtime.Service) grpc.ClientConnInterface
}

var transports = []transportCase{
	{"inprocess", true, serveInProcess},
	{grpctransport.Name, true, serveGRPC},
	{httptransport.Name, true, serveHTTP},
	{amqptransport.Name, false, serveAMQP},
}

func serveInProcess(_ testing.TB, svcs ...*runtime.Service) grpc.ClientConnInterface {
	return runtime.NewInProcessConn(svcs...)
}

func serveGRPC(tb testing.TB, svcs ...*runtime.Service) grpc.ClientConnInterface {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	for _, svc := range svcs {
		grpctransport.Register(srv, svc)
	}
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	return dialGRPC(tb, lis.Addr().String())
}

func dialGRPC(tb testing.TB, addr string) grpc.ClientConnInterface {
	tb.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	return grpctransport.NewConn(cc)
}

func serveHTTP(tb testing.TB, svcs ...*runtime.Service) grpc.ClientConnInterface {
	tb.Helper()
	var handlers []*httptransport.Handler
	for _, svc := range svcs {
		handlers = append(handlers, httptransport.NewHandler(svc))
	}
	srv := httptest.NewServer(httptransport.NewServeMux(handlers...))
	tb.Cleanup(srv.Close)
	conn, err := httptransport.NewConn(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return conn
}

// serveAMQP serves each service from a queue of its own, deleted when the
// test ends, on the broker at AMQP_URL.
func serveAMQP(tb testing.TB, svcs ...*runtime.Service) grpc.ClientConnInterface {
	tb.Helper()
	url := amqptest.URL(tb)
	srv := amqptransport.NewServer()
	queues := make(map[string]string)
	for _, svc := range svcs {
		q := amqptest.Queue(tb, url)
		queues["/"+svc.Name()+"/"] = q
		srv.Register(svc, amqptransport.WithQueue(q))
	}
	if err := srv.Start(url); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	conn, err := amqptransport.Dial(url, amqptransport.WithRouting(func(fullMethod string) (string, string) {
		for prefix, q := range queues {
			if strings.HasPrefix(fullMethod, prefix) {
				return "", q
			}
		}
		return "", "no-such-queue"
	}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// waitFor waits until cond holds, up to a bound, and returns how long it
// took.
func waitFor(tb testing.TB, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			tb.Fatalf("%s did not happen within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(tb testing.TB) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}
