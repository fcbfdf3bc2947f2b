package health_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/health"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// slowGreeter answers after delay, and reports each call's start.
type slowGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
	delay   time.Duration
	started chan struct{}
	calls   atomic.Int32
}

func (g *slowGreeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	g.calls.Add(1)
	g.started <- struct{}{}
	select {
	case <-time.After(g.delay):
		return &helloworld.HelloReply{Message: "Hello, " + in.GetName()}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// gracefulServer is one transport's server with its graceful stop, as the
// documentation tells users to run it.
type gracefulServer struct {
	conn func() grpc.ClientConnInterface // a client connection made before the stop
	stop func(ctx context.Context) error // the transport's graceful stop
	// redial returns a new connection made after the stop began.
	redial func() grpc.ClientConnInterface
}

func gracefulGRPC(t *testing.T, svcs ...*runtime.Service) gracefulServer {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	for _, s := range svcs {
		grpctransport.Register(srv, s)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	conn := dialGRPC(t, addr)
	return gracefulServer{
		conn: func() grpc.ClientConnInterface { return conn },
		stop: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				srv.Stop() // calls still running past the deadline are cancelled
				return ctx.Err()
			}
		},
		redial: func() grpc.ClientConnInterface { return dialGRPC(t, addr) },
	}
}

func gracefulHTTP(t *testing.T, svcs ...*runtime.Service) gracefulServer {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := httptransport.NewHandler(nil)
	for _, s := range svcs {
		h.Register(s)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "http://" + lis.Addr().String()
	dial := func() grpc.ClientConnInterface {
		conn, err := httptransport.NewConn(url)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	conn := dial()
	return gracefulServer{
		conn: func() grpc.ClientConnInterface { return conn },
		stop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			if err != nil {
				_ = srv.Close()
			}
			return err
		},
		redial: dial,
	}
}

// TestGracefulShutdown checks, per transport, what docs/operating.md
// promises: once the stop begins, health says NOT_SERVING, the call in
// flight finishes with its answer, new calls are refused without running,
// and the stop returns once the call in flight is done.
func TestGracefulShutdown(t *testing.T) {
	for name, start := range map[string]func(*testing.T, ...*runtime.Service) gracefulServer{
		"grpc": gracefulGRPC,
		"http": gracefulHTTP,
	} {
		t.Run(name, func(t *testing.T) {
			g := &slowGreeter{delay: 300 * time.Millisecond, started: make(chan struct{}, 8)}
			hs := health.NewServer()
			greeter := helloworldsvc.NewGreeterService(g)
			hs.SetServing(greeter)
			srv := start(t, greeter, hs.Service())
			client := helloworldsvc.NewGreeterClient(srv.conn())

			inFlight := make(chan error, 1)
			go func() {
				_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "in flight"})
				inFlight <- err
			}()
			select {
			case <-g.started:
			case <-time.After(5 * time.Second):
				t.Fatal("the first call never reached the handler")
			}

			hs.Shutdown()
			resp, err := grpc_health_v1.NewHealthClient(srv.conn()).Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: greeterName})
			if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
				t.Errorf("health during shutdown: %v, %v; want NOT_SERVING", resp.GetStatus(), err)
			}

			stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			began := time.Now()
			stopped := make(chan error, 1)
			go func() { stopped <- srv.stop(stopCtx) }()
			time.Sleep(50 * time.Millisecond) // let the stop close the listener

			// A new call, on a new connection, is refused and never runs.
			ctx, cancelNew := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancelNew()
			_, err = helloworldsvc.NewGreeterClient(srv.redial()).SayHello(ctx, &helloworld.HelloRequest{Name: "late"})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("a call after the stop began: %v; want Unavailable", err)
			}

			select {
			case err := <-inFlight:
				if err != nil {
					t.Errorf("the call in flight failed: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the call in flight never ended")
			}
			if err := <-stopped; err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("the stop returned %v", err)
			}
			t.Logf("stop returned after %v; handler ran %d time(s)", time.Since(began).Round(time.Millisecond), g.calls.Load())
			if got := g.calls.Load(); got != 1 {
				t.Errorf("the handler ran %d times, want 1 (the refused call must not run)", got)
			}
		})
	}
}
