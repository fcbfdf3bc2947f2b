package svcotel_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
)

// frontend answers GetUser by calling a Greeter (over AMQP) and a
// CounterService (over HTTP), with the context it was given, so that both
// calls belong to the trace of the call it serves.
type frontend struct {
	usersv1svc.UnimplementedUserServiceServer
	greeter helloworldsvc.GreeterClient
	counter streamingv1svc.CounterServiceClient
}

func (f frontend) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	hello, err := f.greeter.SayHello(ctx, &helloworld.HelloRequest{Name: in.GetUserId()})
	if err != nil {
		return nil, err
	}
	stream, err := f.counter.Count(ctx, &streamingv1.CountRequest{To: 3})
	if err != nil {
		return nil, err
	}
	var n int64
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n = r.GetNumber()
	}
	if n != 3 {
		return nil, status.Errorf(codes.Internal, "counted to %d, want 3", n)
	}
	return &usersv1.User{UserId: in.GetUserId(), DisplayName: hello.GetMessage()}, nil
}

// TestTraceAcrossTransports follows one trace from a client over gRPC into
// a service whose handler calls a second service over AMQP and a third over
// HTTP (a server stream): seven spans, one trace, each server span the
// child of its client span, each client span the child of the span that
// made the call.
func TestTraceAcrossTransports(t *testing.T) {
	tel := newTelemetry(t)
	greeterConn := serveAMQP(t, helloworldsvc.NewGreeterService(service.Greeter{}, tel.server()...))
	counterConn := serveHTTP(t, streamingv1svc.NewCounterServiceService(service.Counter{}, tel.server()...))
	front := frontend{
		greeter: helloworldsvc.NewGreeterClient(greeterConn, tel.client()...),
		counter: streamingv1svc.NewCounterServiceClient(counterConn, tel.client()...),
	}
	frontConn := serveGRPC(t, usersv1svc.NewUserServiceService(front, tel.server()...))
	users := usersv1svc.NewUserServiceClient(frontConn, tel.client()...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, root := tel.tp.Tracer("test").Start(ctx, "root")
	user, err := users.GetUser(ctx, &usersv1.GetUserRequest{UserId: "ada"})
	root.End()
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if user.GetDisplayName() != "Hello, ada" {
		t.Errorf("DisplayName = %q", user.GetDisplayName())
	}

	spans := tel.waitSpans(t, 7)
	byName := make(map[string]sdktrace.ReadOnlySpan)
	for _, s := range spans {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %s (%v) is in trace %s, not the root's %s", s.Name(), s.SpanKind(), s.SpanContext().TraceID(), root.SpanContext().TraceID())
		}
		byName[s.Name()+" "+s.SpanKind().String()] = s
	}
	get := func(name string) sdktrace.ReadOnlySpan {
		s := byName[name]
		if s == nil {
			t.Fatalf("no span %q among %v", name, keys(byName))
		}
		return s
	}
	wantParent := func(child, parent string) {
		t.Helper()
		c, p := get(child), get(parent)
		if c.Parent().SpanID() != p.SpanContext().SpanID() {
			t.Errorf("parent of %s is %s, want %s (%s)", child, c.Parent().SpanID(), parent, p.SpanContext().SpanID())
		}
	}
	const (
		getUser = "example.users.v1.UserService/GetUser"
		hello   = "helloworld.Greeter/SayHello"
		count   = "example.streaming.v1.CounterService/Count"
	)
	wantParent(getUser+" client", "root internal")
	wantParent(getUser+" server", getUser+" client")
	wantParent(hello+" client", getUser+" server")
	wantParent(hello+" server", hello+" client")
	wantParent(count+" client", getUser+" server")
	wantParent(count+" server", count+" client")
	for _, name := range []string{getUser + " server", hello + " server", count + " server"} {
		if !get(name).Parent().IsRemote() {
			t.Errorf("%s: parent is not remote: the context did not cross the wire", name)
		}
	}

	// Attributes, as semantic conventions v1.43.0 name them.
	wantAttrs(t, get(getUser+" client"), map[string]string{
		"rpc.system.name": "grpc", "rpc.method": getUser, "rpc.response.status_code": "OK",
		"server.address": "127.0.0.1", "svcclient.transport": "grpc",
	})
	wantAttrs(t, get(getUser+" server"), map[string]string{
		"rpc.system.name": "grpc", "rpc.method": getUser, "rpc.response.status_code": "OK",
		"server.address": "127.0.0.1", "network.peer.address": "127.0.0.1", "svcclient.transport": "grpc",
	})
	wantAttrs(t, get(hello+" client"), map[string]string{
		"rpc.system.name": "svcclient_amqp", "rpc.method": hello, "rpc.response.status_code": "OK",
		"messaging.system": "rabbitmq", "messaging.operation.type": "send",
		"messaging.destination.name": "helloworld.Greeter", "messaging.rabbitmq.destination.routing_key": "helloworld.Greeter",
	})
	wantAttrs(t, get(hello+" server"), map[string]string{
		"rpc.system.name": "svcclient_amqp", "rpc.method": hello, "rpc.response.status_code": "OK",
		"messaging.system": "rabbitmq", "messaging.operation.type": "process",
		"messaging.destination.name": "helloworld.Greeter", "messaging.rabbitmq.destination.routing_key": "helloworld.Greeter",
		"svcclient.transport": "amqp",
	})
	if id := attr(get(hello+" server"), "messaging.message.conversation_id"); id == "" {
		t.Error("the AMQP server span has no messaging.message.conversation_id (correlation id)")
	}
	wantAttrs(t, get(count+" client"), map[string]string{
		"rpc.system.name": "connectrpc", "rpc.method": count, "rpc.response.status_code": "OK",
		"server.address": "127.0.0.1", "svcclient.transport": "http",
	})
	wantAttrs(t, get(count+" server"), map[string]string{
		"rpc.system.name": "connectrpc", "rpc.method": count, "rpc.response.status_code": "OK",
		"server.address": "127.0.0.1", "svcclient.transport": "http",
	})
	for _, s := range spans {
		if s.Status().Code == otelcodes.Error {
			t.Errorf("span %s has status Error: %s", s.Name(), s.Status().Description)
		}
		if s.Name() != "root" && attr(s, "server.port") == "" && attr(s, "messaging.system") == "" {
			t.Errorf("span %s %v has no server.port", s.Name(), s.SpanKind())
		}
	}

	// Metrics: one duration per call on each side, labelled per method.
	m := tel.metrics(t)
	for name, want := range map[string]int{"rpc.client.call.duration": 3, "rpc.server.call.duration": 3} {
		h, ok := m[name]
		if !ok {
			t.Errorf("no %s histogram among %v", name, keys(m))
			continue
		}
		var calls uint64
		methods := make(map[string]bool)
		for _, dp := range h.DataPoints {
			calls += dp.Count
			v, _ := dp.Attributes.Value("rpc.method")
			methods[v.AsString()] = true
			if code, _ := dp.Attributes.Value("rpc.response.status_code"); code.AsString() != "OK" {
				t.Errorf("%s: rpc.response.status_code = %q", name, code.AsString())
			}
		}
		if int(calls) != want || len(methods) != want {
			t.Errorf("%s: %d calls of %d methods (%v), want %d of %d", name, calls, len(methods), methods, want, want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// attr returns a span attribute as text, or "".
func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k); got != v {
			t.Errorf("%s %v: %s = %q, want %q", s.Name(), s.SpanKind(), k, got, v)
		}
	}
}

var (
	_ = attribute.Key("")
	_ = trace.SpanKindClient
)
