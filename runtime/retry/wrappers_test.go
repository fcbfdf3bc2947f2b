package retry

import (
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime"
)

// TestOverFallbackConn: the retry conn wraps a fallback connection whose
// first transport is unreachable; each attempt falls back, and GetUser
// succeeds on the third.
func TestOverFallbackConn(t *testing.T) {
	svc := &flakyUsers{Fails: 2, Code: codes.Unavailable}
	dead := &countingConn{next: dialGRPCAddr(t, deadAddress(t))}
	fallback := runtime.NewFallbackConn(dead, runtime.NewInProcessConn(usersv1svc.NewUserServiceService(svc)))
	client := mustConn(t, fallback, newFakeClock(), WithPolicy(service, standard))
	if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "ada"}); err != nil {
		t.Fatal(err)
	}
	if got := svc.Calls("GetUser"); got != 3 {
		t.Errorf("service saw %d attempts, want 3", got)
	}
	if got := dead.attempts.Load(); got != 3 {
		t.Errorf("the dead transport saw %d attempts, want 3 (one per retry)", got)
	}
}

// TestInterceptors: the Retrier's interceptors retry unary calls and
// server streams of a generated client.
func TestInterceptors(t *testing.T) {
	svc := &flakyUsers{Fails: 2, Code: codes.Unavailable}
	p := standard
	p.RetryNonIdempotent = true
	r, err := New(WithPolicy(service, p), withClock(newFakeClock(), fixedRandom))
	if err != nil {
		t.Fatal(err)
	}
	client := usersv1svc.NewUserServiceClient(runtime.NewInProcessConn(usersv1svc.NewUserServiceService(svc)),
		runtime.WithUnaryInterceptors(r.UnaryClientInterceptor()),
		runtime.WithStreamInterceptors(r.StreamClientInterceptor()))
	if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{}); err != nil {
		t.Fatal(err)
	}
	stream, err := client.WatchUsers(testContext(t), &usersv1.WatchUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := drain(stream); err != nil || n != 2 {
		t.Fatalf("%d events, %v", n, err)
	}
	if g, w := svc.Calls("GetUser"), svc.Calls("WatchUsers"); g != 3 || w != 3 {
		t.Errorf("attempts: GetUser %d, WatchUsers %d; want 3 and 3", g, w)
	}
}

// TestOnFinishOnceWhenOpeningNeverWorks: a server stream whose every
// attempt fails to open reports one end, with the last error.
func TestOnFinishOnceWhenOpeningNeverWorks(t *testing.T) {
	conn := &countingConn{next: runtime.NewInProcessConn(), failFirst: 100}
	var mu sync.Mutex
	var ends []error
	client := mustConn(t, conn, newFakeClock(), WithPolicy(service, standard))
	_, err := client.WatchUsers(testContext(t), &usersv1.WatchUsersRequest{},
		grpc.OnFinish(func(err error) { mu.Lock(); ends = append(ends, err); mu.Unlock() }))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if got := conn.attempts.Load(); got != 5 {
		t.Errorf("%d attempts, want 5", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ends) != 1 || status.Code(ends[0]) != codes.Unavailable {
		t.Errorf("OnFinish saw %v, want one Unavailable", ends)
	}
}
