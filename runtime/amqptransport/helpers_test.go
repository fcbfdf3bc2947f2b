package amqptransport_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// greeter is the service the tests call. The request's name picks what it
// does:
//
//	"error"  fails with InvalidArgument and a BadRequest detail
//	"panic"  panics
//	"block"  waits until released (or its context ends), then answers
//	"echo"   copies the incoming metadata to the header and the trailer
//	"big"    answers with a message of bigReply bytes
//	else     answers "Hello <name>"
type greeter struct {
	helloworldsvc.UnimplementedGreeterServer
	id       string
	calls    atomic.Int64
	started  chan context.Context // receives each "block" call's context
	release  chan struct{}        // closed to let "block" calls answer
	bigReply int
}

func newGreeter(id string) *greeter {
	return &greeter{id: id, started: make(chan context.Context, 128), release: make(chan struct{})}
}

func (g *greeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	g.calls.Add(1)
	switch in.GetName() {
	case "error":
		st, _ := status.New(codes.InvalidArgument, "name is not acceptable").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "must not be error"}},
		})
		return nil, st.Err()
	case "panic":
		panic("greeter told to panic")
	case "block":
		g.started <- ctx
		select {
		case <-g.release:
			return &helloworld.HelloReply{Message: "released by " + g.id}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "echo":
		md, _ := metadata.FromIncomingContext(ctx)
		if err := grpc.SetHeader(ctx, md); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("trailer-echo", strings.Join(md.Get("x-user"), ","))); err != nil {
			return nil, err
		}
		return &helloworld.HelloReply{Message: "echo"}, nil
	case "big":
		return &helloworld.HelloReply{Message: strings.Repeat("x", g.bigReply)}, nil
	}
	return &helloworld.HelloReply{Message: "Hello " + in.GetName() + " from " + g.id}, nil
}

// quietLogger discards the server's log lines.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve starts a server for g on queue, closed when the test ends.
func serve(t *testing.T, url, queue string, g helloworldsvc.GreeterServer, opts ...amqptransport.ServerOption) *amqptransport.Server {
	t.Helper()
	opts = append([]amqptransport.ServerOption{amqptransport.WithLogger(quietLogger)}, opts...)
	srv := amqptransport.NewServer(opts...)
	srv.Register(helloworldsvc.NewGreeterService(g), amqptransport.WithQueue(queue))
	if err := srv.Start(url); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// toQueue routes every call to queue.
func toQueue(queue string) amqptransport.ClientOption {
	return amqptransport.WithRouting(func(string) (string, string) { return "", queue })
}

// dial returns a client for queue, closed when the test ends.
func dial(t *testing.T, url, queue string, opts ...amqptransport.ClientOption) (*amqptransport.Conn, helloworldsvc.GreeterClient) {
	t.Helper()
	conn, err := amqptransport.Dial(url, append([]amqptransport.ClientOption{toQueue(queue)}, opts...)...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, helloworldsvc.NewGreeterClient(conn)
}

// testContext is the context for a test's calls: long enough never to be
// what ends a call that works, so that a call ending early shows.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) carries no status", err, err)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, want)
	}
	return st
}

// broker returns the broker URL and a fresh queue name.
func broker(t *testing.T) (url, queue string) {
	url = amqptest.URL(t)
	return url, amqptest.Queue(t, url)
}

// waitGoroutines waits until at most n goroutines run, and fails the test
// with their stacks if that does not happen within a generous bound.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := numGoroutine(); got <= n {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running, want at most %d:\n%s", got, n, stacks())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStarted returns the context of the next "block" call g starts, and
// fails the test if none starts within a few seconds.
func waitStarted(t testing.TB, g *greeter) context.Context {
	t.Helper()
	select {
	case ctx := <-g.started:
		return ctx
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the handler within 10s")
		return nil
	}
}
