package httptransport_test

import (
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
)

// callOptions are two of each option grpc-go fills or runs on every call,
// as a caller and an interceptor might both give them.
type callOptions struct {
	headers  [2]metadata.MD
	trailers [2]metadata.MD
	peers    [2]peer.Peer
	finished [2]int
}

func (o *callOptions) list() []grpc.CallOption {
	return []grpc.CallOption{
		grpc.Header(&o.headers[0]), grpc.Header(&o.headers[1]),
		grpc.Trailer(&o.trailers[0]), grpc.Trailer(&o.trailers[1]),
		grpc.Peer(&o.peers[0]), grpc.Peer(&o.peers[1]),
		grpc.OnFinish(func(error) { o.finished[0]++ }), grpc.OnFinish(func(error) { o.finished[1]++ }),
	}
}

// check: every Header and Trailer holds the key the server set, every Peer
// names the server, every OnFinish ran once.
func (o *callOptions) check(t *testing.T, server, headerKey, trailerKey string) {
	t.Helper()
	for i := range 2 {
		if len(o.headers[i].Get(headerKey)) == 0 {
			t.Errorf("grpc.Header #%d = %v, want %s", i+1, o.headers[i], headerKey)
		}
		if len(o.trailers[i].Get(trailerKey)) == 0 {
			t.Errorf("grpc.Trailer #%d = %v, want %s", i+1, o.trailers[i], trailerKey)
		}
		if o.peers[i].Addr == nil || !strings.HasSuffix(server, o.peers[i].Addr.String()) {
			t.Errorf("grpc.Peer #%d = %v, want the server at %s", i+1, o.peers[i].Addr, server)
		}
		if o.finished[i] != 1 {
			t.Errorf("grpc.OnFinish #%d ran %d times, want once", i+1, o.finished[i])
		}
	}
}

func drain[T any](t *testing.T, stream grpc.ServerStreamingClient[T]) {
	t.Helper()
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// TestCallOptionsAllHonoured gives two grpc.Header, two grpc.Trailer, two
// grpc.Peer and two grpc.OnFinish options to unary and server-streaming
// calls on Connect and REST routes: grpc-go fills every one and runs every
// callback once, and so must the HTTP transport.
func TestCallOptionsAllHonoured(t *testing.T) {
	base := svcclientServer(t)
	conn := dial(t, base)
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "1")
	for _, tc := range []struct {
		name                  string
		headerKey, trailerKey string
		call                  func(t *testing.T, opts []grpc.CallOption)
	}{
		{"unary Connect", "x-echo", "x-trailer", func(t *testing.T, opts []grpc.CallOption) {
			if _, err := helloworld.NewGreeterClient(conn).SayHello(ctx, &helloworld.HelloRequest{Name: "metadata"}, opts...); err != nil {
				t.Fatal(err)
			}
		}},
		{"unary REST", "x-echo", "x-trailer", func(t *testing.T, opts []grpc.CallOption) {
			if _, err := usersv1.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{UserId: "u"}, opts...); err != nil {
				t.Fatal(err)
			}
		}},
		{"server stream Connect", "x-count", "x-counted", func(t *testing.T, opts []grpc.CallOption) {
			stream, err := streamingv1.NewCounterServiceClient(conn).Count(ctx, &streamingv1.CountRequest{To: 2}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, stream)
		}},
		{"server stream REST", "x-echo", "x-trailer", func(t *testing.T, opts []grpc.CallOption) {
			stream, err := usersv1.NewUserServiceClient(conn).WatchUsers(ctx, &usersv1.WatchUsersRequest{UserIds: []string{"a"}, MaxEvents: 2}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, stream)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o callOptions
			tc.call(t, o.list())
			o.check(t, base, tc.headerKey, tc.trailerKey)
		})
	}
}
