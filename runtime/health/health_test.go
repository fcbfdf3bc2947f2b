package health_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/health"
)

const (
	serving    = healthpb.HealthCheckResponse_SERVING
	notServing = healthpb.HealthCheckResponse_NOT_SERVING
)

// TestCheckEveryTransport: Check answers on every transport, through both
// grpc-go's generated client and Check, and shows Shutdown and Resume.
func TestCheckEveryTransport(t *testing.T) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			hs := health.NewServer()
			greeter := helloworldsvc.NewGreeterService(&countingGreeter{})
			hs.SetServing(greeter)
			conn := tc.serve(t, hs.Service(), greeter)
			ctx := testContext(t)
			client := healthpb.NewHealthClient(conn)

			want := func(service string, wantStatus healthpb.HealthCheckResponse_ServingStatus) {
				t.Helper()
				var answeredBy string
				res, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service}, runtime.AnsweredBy(&answeredBy))
				if err != nil || res.GetStatus() != wantStatus {
					t.Fatalf("Check(%q) = %v, %v; want %v", service, res.GetStatus(), err, wantStatus)
				}
				if answeredBy != tc.name {
					t.Errorf("answered by %q, want %q", answeredBy, tc.name)
				}
				if got, err := health.Check(ctx, conn, service); err != nil || got != wantStatus {
					t.Fatalf("health.Check(%q) = %v, %v; want %v", service, got, err, wantStatus)
				}
			}
			want("", serving)
			want(greeterName, serving)

			_, err := health.Check(ctx, conn, "no.such.Service")
			if status.Code(err) != codes.NotFound {
				t.Errorf("unknown service: %v, want NotFound", err)
			}

			hs.Shutdown()
			want("", notServing)
			want(greeterName, notServing)
			// Shut down, the server ignores changes until Resume, as
			// grpc-go's does: a draining server stays NOT_SERVING.
			hs.SetServingStatus(greeterName, serving)
			want(greeterName, notServing)

			hs.Resume()
			want("", serving)
			want(greeterName, serving)
		})
	}
}

// TestWatchEveryTransport: Watch streams every change where the transport
// carries server streams; AMQP refuses it before sending anything.
func TestWatchEveryTransport(t *testing.T) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			hs := health.NewServer()
			greeter := helloworldsvc.NewGreeterService(&countingGreeter{})
			hs.SetServing(greeter)
			conn := tc.serve(t, hs.Service(), greeter)
			ctx := testContext(t)
			client := healthpb.NewHealthClient(conn)

			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: greeterName})
			var first *healthpb.HealthCheckResponse
			if err == nil {
				first, err = stream.Recv()
			}
			if !tc.streams {
				if status.Code(err) != codes.Unimplemented || !errors.Is(err, runtime.ErrNotSent) {
					t.Fatalf("Watch over %s: %v; want Unimplemented, not sent", tc.name, err)
				}
				return
			}
			if err != nil || first.GetStatus() != serving {
				t.Fatalf("first report: %v, %v; want SERVING", first.GetStatus(), err)
			}
			recv := func(want healthpb.HealthCheckResponse_ServingStatus) time.Duration {
				t.Helper()
				start := time.Now()
				res, err := stream.Recv()
				if err != nil || res.GetStatus() != want {
					t.Fatalf("report: %v, %v; want %v", res.GetStatus(), err, want)
				}
				return time.Since(start)
			}
			start := time.Now()
			hs.Shutdown()
			recv(notServing)
			t.Logf("%s: Shutdown seen by a watcher after %v", tc.name, time.Since(start))
			hs.Resume()
			recv(serving)
			hs.SetServingStatus(greeterName, notServing)
			recv(notServing)

			unknown, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
			if err != nil {
				t.Fatal(err)
			}
			if res, err := unknown.Recv(); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
				t.Errorf("unknown service: %v, %v; want SERVICE_UNKNOWN", res.GetStatus(), err)
			}
		})
	}
}

// TestConnFollowsHealth: a Conn sees Shutdown and Resume on every
// transport: by Watch where there are server streams, by Check elsewhere.
func TestConnFollowsHealth(t *testing.T) {
	const interval = 50 * time.Millisecond
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			hs := health.NewServer()
			greeter := helloworldsvc.NewGreeterService(&countingGreeter{})
			hs.SetServing(greeter)
			hc := health.NewConn(tc.serve(t, hs.Service(), greeter), greeterName, health.WithInterval(interval))
			t.Cleanup(func() { _ = hc.Close() })

			hs.Shutdown()
			down := waitFor(t, "NOT_SERVING seen", func() bool { return !hc.Serving() })
			hs.Resume()
			up := waitFor(t, "SERVING seen", func() bool { return hc.Serving() })
			t.Logf("%s (interval %v): NOT_SERVING seen after %v, SERVING after %v", tc.name, interval, down, up)
		})
	}
}

// TestFallbackSkipsNotServing: a fallback over Conns sends calls past a
// transport whose server reports NOT_SERVING, without trying it first, and
// back to it once it serves again.
func TestFallbackSkipsNotServing(t *testing.T) {
	const interval = 50 * time.Millisecond
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			hs := health.NewServer()
			firstGreeter, secondGreeter := &countingGreeter{}, &countingGreeter{}
			greeter := helloworldsvc.NewGreeterService(firstGreeter)
			hs.SetServing(greeter)
			first := health.NewConn(tc.serve(t, hs.Service(), greeter), greeterName, health.WithInterval(interval))
			t.Cleanup(func() { _ = first.Close() })
			second := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(secondGreeter))
			if tc.name == "inprocess" {
				second = serveHTTP(t, helloworldsvc.NewGreeterService(secondGreeter))
			}
			client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(first, second))
			ctx := testContext(t)
			call := func() string {
				t.Helper()
				var answeredBy string
				// SayHello is not idempotent: the fallback could not move
				// on after sending it, so the answer shows where it went.
				if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&answeredBy)); err != nil {
					t.Fatal(err)
				}
				return answeredBy
			}
			if got := call(); got != tc.name {
				t.Fatalf("serving: answered by %q, want %q", got, tc.name)
			}

			start := time.Now()
			hs.Shutdown()
			waitFor(t, "NOT_SERVING seen", func() bool { return !first.Serving() })
			skip := time.Since(start)
			if got := call(); got == tc.name {
				t.Fatalf("not serving: answered by %q, want the second transport", got)
			}
			if n := firstGreeter.calls.Load(); n != 1 {
				t.Errorf("the not-serving server saw %d calls, want 1 (before Shutdown)", n)
			}

			hs.Resume()
			waitFor(t, "SERVING seen", func() bool { return first.Serving() })
			if got := call(); got != tc.name {
				t.Errorf("serving again: answered by %q, want %q", got, tc.name)
			}
			t.Logf("%s: calls skip it %v after Shutdown", tc.name, skip)
		})
	}
}

// TestConnUnreachable: a server that cannot be reached is not serving, and
// the fallback sends calls to the next transport without waiting on it.
func TestConnUnreachable(t *testing.T) {
	hc := health.NewConn(dialGRPC(t, deadAddress(t)), "", health.WithInterval(50*time.Millisecond))
	t.Cleanup(func() { _ = hc.Close() })
	waitFor(t, "unreachable server seen", func() bool { return !hc.Serving() })

	var answeredBy string
	client := helloworldsvc.NewGreeterClient(runtime.NewFallbackConn(hc, runtime.NewInProcessConn(helloworldsvc.NewGreeterService(&countingGreeter{}))))
	if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&answeredBy)); err != nil || answeredBy != "inprocess" {
		t.Errorf("err %v, answered by %q; want in-process", err, answeredBy)
	}
}

// TestConnServerRestarts: a Conn whose watch breaks because the server
// stopped reports not serving, and serving again once a server is back on
// the address.
func TestConnServerRestarts(t *testing.T) {
	const interval = 20 * time.Millisecond
	start := func(addr string) *grpc.Server {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		grpctransport.Register(srv, health.NewServer().Service())
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		return srv
	}
	addr := deadAddress(t)
	srv := start(addr)
	hc := health.NewConn(dialGRPC(t, addr), "", health.WithInterval(interval))
	t.Cleanup(func() { _ = hc.Close() })
	time.Sleep(5 * interval) // a watch that has lived for a while
	if !hc.Serving() {
		t.Fatal("not serving before the server stopped")
	}
	srv.Stop()
	down := waitFor(t, "stopped server seen", func() bool { return !hc.Serving() })
	start(addr)
	up := waitFor(t, "restarted server seen", func() bool { return hc.Serving() })
	t.Logf("stop seen after %v, restart after %v (interval %v)", down, up, interval)
}

// probeCounter counts the health calls that pass through it.
type probeCounter struct {
	grpc.ClientConnInterface
	checks, watches chan struct{}
}

func (c *probeCounter) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	err := c.ClientConnInterface.Invoke(ctx, method, req, reply, opts...)
	if method == healthpb.Health_Check_FullMethodName {
		select {
		case c.checks <- struct{}{}:
		default:
		}
	}
	return err
}

func (c *probeCounter) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method == healthpb.Health_Watch_FullMethodName {
		select {
		case c.watches <- struct{}{}:
		default:
		}
	}
	return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

// TestConnWithoutHealthService: a server that does not serve the health
// service counts as serving, as grpc-go's client-side health checking
// treats it, once Check has said so (twice, to see it hold).
func TestConnWithoutHealthService(t *testing.T) {
	pc := &probeCounter{
		ClientConnInterface: runtime.NewInProcessConn(helloworldsvc.NewGreeterService(&countingGreeter{})),
		checks:              make(chan struct{}),
		watches:             make(chan struct{}, 1),
	}
	hc := health.NewConn(pc, greeterName, health.WithInterval(10*time.Millisecond))
	t.Cleanup(func() { _ = hc.Close() })
	for i := range 2 {
		select {
		case <-pc.checks:
		case <-time.After(10 * time.Second):
			t.Fatalf("check %d did not happen", i+1)
		}
	}
	if len(pc.watches) != 1 {
		t.Error("the Conn did not try Watch first")
	}
	if !hc.Serving() {
		t.Error("a server without a health service counts as not serving")
	}
}

// TestConnCloseStops: Close returns once the Conn has stopped, and leaves
// the wrapped connection usable.
func TestConnCloseStops(t *testing.T) {
	hs := health.NewServer()
	greeter := helloworldsvc.NewGreeterService(&countingGreeter{})
	conn := serveGRPC(t, hs.Service(), greeter)
	hc := health.NewConn(conn, "")
	done := make(chan error)
	go func() { done <- hc.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := helloworldsvc.NewGreeterClient(hc).SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"}); err != nil {
		t.Errorf("call after Close: %v", err)
	}
}
