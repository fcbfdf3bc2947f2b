package runtime_test

import (
	"context"
	"strings"
	"testing"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

func TestCodecsRoundTrip(t *testing.T) {
	in := &helloworld.HelloRequest{Name: "Ada ✓"}
	for _, c := range []runtime.Codec{runtime.ProtoCodec{}, &runtime.JSONCodec{}} {
		b, err := c.MarshalAppend([]byte("prefix"), in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "prefix") {
			t.Errorf("%s: MarshalAppend did not append", c.Name())
		}
		out := &helloworld.HelloRequest{Name: "stale"}
		if err := c.Unmarshal(b[len("prefix"):], out); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(in, out) {
			t.Errorf("%s: round trip gave %v, want %v", c.Name(), out, in)
		}
	}
	json := &runtime.JSONCodec{}
	out := &helloworld.HelloRequest{Name: "stale"}
	if err := json.Unmarshal(nil, out); err != nil || out.GetName() != "" {
		t.Errorf("empty JSON body: %v, %v; want the empty message", out, err)
	}
	if err := json.Unmarshal([]byte(`{"nmae":"x"}`), out); err == nil {
		t.Error("unknown JSON field accepted")
	}
}

// TestNewClientWithoutInterceptors checks that a client with no
// interceptors calls its transport directly.
func TestNewClientWithoutInterceptors(t *testing.T) {
	conn := runtime.NewInProcessConn()
	if got := runtime.NewClient(conn); got != conn {
		t.Errorf("NewClient without options wrapped the conn in %T", got)
	}
}

type notAGreeter struct{}

func TestNewServiceChecksImplementation(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "does not implement") {
			t.Errorf("recovered %v, want a message saying the type does not implement the interface", r)
		}
	}()
	runtime.NewService(helloworldsvc.Greeter_ServiceDesc, notAGreeter{})
}

type nilGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
}

func (nilGreeter) SayHello(context.Context, *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	return nil, nil
}

func TestNilResponseIsInternal(t *testing.T) {
	conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(nilGreeter{}))
	_, err := helloworldsvc.NewGreeterClient(conn).SayHello(context.Background(), &helloworld.HelloRequest{})
	if status.Code(err) != codes.Internal {
		t.Errorf("err = %v, want Internal for a nil response with a nil error", err)
	}
}

func TestUnknownMethodIsUnimplemented(t *testing.T) {
	conn := runtime.NewInProcessConn() // serves nothing
	_, err := helloworldsvc.NewGreeterClient(conn).SayHello(context.Background(), &helloworld.HelloRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("err = %v, want Unimplemented", err)
	}
}

// TestInProcessCopiesMessages checks that neither side sees the other
// mutate a message, as on a network.
func TestInProcessCopiesMessages(t *testing.T) {
	conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(service.Greeter{}))
	req := &helloworld.HelloRequest{Name: "Ada"}
	reply, err := helloworldsvc.NewGreeterClient(conn).SayHello(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Name = "changed"
	if reply.GetMessage() != "Hello, Ada" {
		t.Errorf("reply changed with the request: %q", reply.GetMessage())
	}
}

// TestEveryMethodHasItsOwnHandler checks that a service resolves each of
// its methods to its own handler, once, in declaration order.
func TestEveryMethodHasItsOwnHandler(t *testing.T) {
	svc := usersv1svc.NewUserServiceService(service.NewUsers())
	methods := usersv1.File_users_v1_users_proto.Services().ByName("UserService").Methods()
	if got := len(svc.Handlers()); got != methods.Len() {
		t.Fatalf("%d handlers for %d methods", got, methods.Len())
	}
	for i, h := range svc.Handlers() {
		md := methods.Get(i)
		if h.Method.Desc != md || svc.Handler(h.Method.FullMethod) != h {
			t.Errorf("handler %d is for %s, want %s", i, h.Method.FullMethod, md.FullName())
		}
		if h.Method.Kind != transport.Unary {
			continue
		}
		_, err := h.Unary(context.Background(), func(any) error { return nil })
		// Each method answers with a reply or an error of its own
		// (NotFound, InvalidArgument...). Dispatching to another method's
		// implementation would fail its type assertion: Internal.
		if status.Code(err) == codes.Internal {
			t.Errorf("%s dispatched wrongly: %v", h.Method.FullMethod, err)
		}
	}
	if svc.Handler("/helloworld.Greeter/SayHello") != nil {
		t.Error("a method of another service was found")
	}
}
