package retry

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/runtime"
)

// TestNoPolicyAddsNoAllocations: a call of a method without a policy goes
// straight to the connection.
func TestNoPolicyAddsNoAllocations(t *testing.T) {
	inner := runtime.NewInProcessConn(usersv1svc.NewUserServiceService(&flakyUsers{}))
	wrapped, err := NewConn(inner, WithPolicy(createUser, standard))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, reply := &usersv1.GetUserRequest{UserId: "ada"}, &usersv1.User{}
	direct := testing.AllocsPerRun(200, func() { _ = inner.Invoke(ctx, getUser, req, reply) })
	through := testing.AllocsPerRun(200, func() { _ = wrapped.Invoke(ctx, getUser, req, reply) })
	if through != direct {
		t.Errorf("a call without a policy makes %v allocations through the retry conn, %v directly", through, direct)
	}
}

func benchmarkInvoke(b *testing.B, opts ...Option) {
	inner := runtime.NewInProcessConn(usersv1svc.NewUserServiceService(&flakyUsers{}))
	conn := grpcConnOrWrapped(b, inner, opts)
	ctx := context.Background()
	req, reply := &usersv1.GetUserRequest{UserId: "ada"}, &usersv1.User{}
	b.ReportAllocs()
	for b.Loop() {
		if err := conn.Invoke(ctx, getUser, req, reply); err != nil {
			b.Fatal(err)
		}
	}
}

func grpcConnOrWrapped(b *testing.B, inner grpc.ClientConnInterface, opts []Option) grpc.ClientConnInterface {
	if opts == nil {
		return inner
	}
	c, err := NewConn(inner, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// The overhead of the retry layer on a call that succeeds first time.
func BenchmarkInvokeDirect(b *testing.B)   { benchmarkInvoke(b) }
func BenchmarkInvokeNoPolicy(b *testing.B) { benchmarkInvoke(b, WithPolicy(createUser, standard)) }
func BenchmarkInvokePolicy(b *testing.B)   { benchmarkInvoke(b, WithPolicy(service, standard)) }
