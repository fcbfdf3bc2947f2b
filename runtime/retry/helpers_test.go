package retry

import (
	"context"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
	"github.com/svcclient/svcclient/runtime/transport"
)

// flakyUsers fails the first Fails calls of each method with Code (and the
// trailer grpc-retry-pushback-ms = Pushback, header retry-after =
// RetryAfter when set), then answers. WatchUsers fails the same way before
// its first event, or after it when FailAfterFirst is set.
type flakyUsers struct {
	usersv1svc.UnimplementedUserServiceServer
	Fails          int32
	Code           codes.Code
	Pushback       string
	RetryAfter     string
	FailAfterFirst bool

	mu    sync.Mutex
	calls map[string]int32
}

func (f *flakyUsers) arrive(method string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int32{}
	}
	f.calls[method]++
	return f.calls[method]
}

// Calls returns how many requests of method reached the service.
func (f *flakyUsers) Calls(method string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *flakyUsers) fail(ctx context.Context, n int32) error {
	if n > f.Fails {
		return nil
	}
	if f.Pushback != "" {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(PushbackTrailer, f.Pushback))
	}
	if f.RetryAfter != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs(RetryAfterHeader, f.RetryAfter))
	}
	return status.Errorf(f.Code, "failure %d of %d", n, f.Fails)
}

func (f *flakyUsers) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	if err := f.fail(ctx, f.arrive("GetUser")); err != nil {
		return nil, err
	}
	return &usersv1.User{UserId: in.GetUserId()}, nil
}

func (f *flakyUsers) CreateUser(ctx context.Context, in *usersv1.CreateUserRequest) (*usersv1.User, error) {
	if err := f.fail(ctx, f.arrive("CreateUser")); err != nil {
		return nil, err
	}
	return in.GetUser(), nil
}

func (f *flakyUsers) WatchUsers(in *usersv1.WatchUsersRequest, stream grpc.ServerStreamingServer[usersv1.UserEvent]) error {
	n := f.arrive("WatchUsers")
	if !f.FailAfterFirst {
		if err := f.fail(stream.Context(), n); err != nil {
			return err
		}
	}
	for i := range 2 {
		if err := stream.Send(&usersv1.UserEvent{User: &usersv1.User{UserId: "w"}}); err != nil {
			return err
		}
		if i == 0 && f.FailAfterFirst {
			if err := f.fail(stream.Context(), n); err != nil {
				return err
			}
		}
	}
	return nil
}

// transportCase connects a client to a service over one transport.
type transportCase struct {
	name    string
	streams bool // server streams work over it
	dial    func(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface
}

var transports = []transportCase{
	{"inprocess", true, func(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
		return runtime.NewInProcessConn(svc)
	}},
	{"grpc", true, dialGRPC},
	{"http-rest", true, func(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface { return dialHTTP(t, svc) }},
	{"http-connect", true, func(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
		return dialHTTP(t, svc, httptransport.WithConnectRoutes())
	}},
	{"amqp", false, dialAMQP},
}

func dialGRPC(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	grpctransport.Register(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return dialGRPCAddr(t, lis.Addr().String())
}

func dialGRPCAddr(t *testing.T, addr string) grpc.ClientConnInterface {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return grpctransport.NewConn(cc)
}

func dialHTTP(t *testing.T, svc *runtime.Service, opts ...httptransport.ClientOption) grpc.ClientConnInterface {
	t.Helper()
	srv := httptest.NewServer(httptransport.NewHandler(svc))
	t.Cleanup(srv.Close)
	return dialHTTPAddr(t, srv.URL, opts...)
}

func dialHTTPAddr(t *testing.T, url string, opts ...httptransport.ClientOption) grpc.ClientConnInterface {
	t.Helper()
	conn, err := httptransport.NewConn(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func dialAMQP(t *testing.T, svc *runtime.Service) grpc.ClientConnInterface {
	t.Helper()
	url := amqptest.URL(t)
	queue := amqptest.Queue(t, url)
	srv := amqptransport.NewServer()
	srv.Register(svc, amqptransport.WithQueue(queue))
	if err := srv.Start(url); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	conn, err := amqptransport.Dial(url, amqptransport.WithRouting(func(string) (string, string) { return "", queue }))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
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

// fakeClock never sleeps: it records each wait and moves its time on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// fixedRandom makes the jitter the bound itself times 0.5.
func fixedRandom() float64 { return 0.5 }

// countingConn counts attempts and fails the first failFirst of them with
// a NotSent Unavailable error before passing calls on.
type countingConn struct {
	next      grpc.ClientConnInterface
	failFirst int32
	attempts  atomic.Int32

	mu        sync.Mutex
	lastStart time.Time
}

// LastStart returns when the latest attempt started.
func (c *countingConn) LastStart() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastStart
}

func (c *countingConn) notSent() error {
	c.mu.Lock()
	c.lastStart = time.Now()
	c.mu.Unlock()
	if c.attempts.Add(1) <= c.failFirst {
		return transport.NotSent(status.Error(codes.Unavailable, "no connection (test)"))
	}
	return nil
}

func (c *countingConn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	if err := c.notSent(); err != nil {
		return err
	}
	return c.next.Invoke(ctx, method, req, reply, opts...)
}

func (c *countingConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := c.notSent(); err != nil {
		return nil, err
	}
	return c.next.NewStream(ctx, desc, method, opts...)
}

// standard is the policy most tests use.
var standard = Policy{
	MaxAttempts:       5,
	InitialBackoff:    10 * time.Millisecond,
	MaxBackoff:        100 * time.Millisecond,
	BackoffMultiplier: 2,
	RetryableCodes:    []codes.Code{codes.Unavailable},
}

// mustConn wraps conn with opts and a fake clock.
func mustConn(t *testing.T, conn grpc.ClientConnInterface, clk *fakeClock, opts ...Option) usersv1svc.UserServiceClient {
	t.Helper()
	if clk != nil {
		opts = append(opts, withClock(clk, fixedRandom))
	}
	rc, err := NewConn(conn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return usersv1svc.NewUserServiceClient(rc)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
