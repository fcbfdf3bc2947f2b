package svcotel_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	otelcodes "go.opentelemetry.io/otel/codes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
)

// failingGreeter answers with the status code named by the request.
type failingGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
}

func (failingGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(`"` + in.GetName() + `"`)); err != nil {
		return nil, err
	}
	return nil, status.Error(c, "failed as asked")
}

// TestErrorStatus checks the conventions' rule for span status: every code
// but OK is an error on the client, only server faults are on the server.
func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		code        codes.Code
		name        string
		serverError bool
	}{
		{codes.NotFound, "NOT_FOUND", false},
		{codes.InvalidArgument, "INVALID_ARGUMENT", false},
		{codes.Internal, "INTERNAL", true},
		{codes.Unavailable, "UNAVAILABLE", true},
	} {
		tel := newTelemetry(t)
		conn := runtime.NewInProcessConn(helloworldsvc.NewGreeterService(failingGreeter{}, tel.server()...))
		greeter := helloworldsvc.NewGreeterClient(conn, tel.client()...)
		_, err := greeter.SayHello(context.Background(), &helloworld.HelloRequest{Name: tc.name})
		if status.Code(err) != tc.code {
			t.Fatalf("%v: got %v", tc.code, err)
		}
		for _, s := range tel.waitSpans(t, 2) {
			wantAttrs(t, s, map[string]string{"rpc.response.status_code": tc.name, "rpc.system.name": "svcclient_inprocess", "svcclient.transport": "inprocess"})
			isError := s.SpanKind().String() == "client" || tc.serverError
			if got := s.Status().Code == otelcodes.Error; got != isError {
				t.Errorf("%v %v: status Error = %v, want %v", tc.code, s.SpanKind(), got, isError)
			}
			if got := attr(s, "error.type"); (got != "") != isError || (isError && got != tc.name) {
				t.Errorf("%v %v: error.type = %q", tc.code, s.SpanKind(), got)
			}
		}
		for name, h := range tel.metrics(t) {
			for _, dp := range h.DataPoints {
				if v, _ := dp.Attributes.Value("rpc.response.status_code"); v.AsString() != tc.name {
					t.Errorf("%s: status code %q, want %q", name, v.AsString(), tc.name)
				}
			}
		}
	}
}

// TestRESTRoute checks that trace context crosses the HTTP transport's
// REST routes too, where metadata travels as Grpc-Metadata-* headers.
func TestRESTRoute(t *testing.T) {
	tel := newTelemetry(t)
	conn := serveHTTP(t, usersv1svc.NewUserServiceService(service.NewUsers(), tel.server()...))
	users := usersv1svc.NewUserServiceClient(conn, tel.client()...)
	_, err := users.GetUser(context.Background(), &usersv1.GetUserRequest{UserId: "nobody"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetUser: %v, want NotFound", err)
	}
	spans := tel.waitSpans(t, 2)
	client, server := spans[0], spans[1]
	if client.SpanKind().String() != "client" {
		client, server = server, client
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() {
		t.Errorf("server span's parent is %v, want the client span %v", server.Parent().SpanID(), client.SpanContext().SpanID())
	}
	wantAttrs(t, server, map[string]string{"svcclient.transport": "http", "rpc.response.status_code": "NOT_FOUND"})
	if server.Status().Code == otelcodes.Error || client.Status().Code != otelcodes.Error {
		t.Errorf("NotFound: server status %v (want Unset), client status %v (want Error)", server.Status().Code, client.Status().Code)
	}
}

// TestCoreHasNoOpenTelemetry checks that svcclient's own packages do not
// depend on OpenTelemetry: programs that do not import svcotel link none
// of it.
func TestCoreHasNoOpenTelemetry(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./runtime/...", "./cmd/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(out), "github.com/svcclient/svcclient/runtime/transport") {
		t.Fatalf("go list -deps printed no runtime package:\n%s", out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "go.opentelemetry.io/") {
			t.Errorf("the core module depends on %s", pkg)
		}
	}
}
