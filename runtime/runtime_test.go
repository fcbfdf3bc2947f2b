package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/example/service"
	"github.com/svcclient/svcclient/runtime"
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

func TestMetadataValues(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"x-id", "plain ascii"},
		{"x-token-bin", "\x00\xff binary"},
		{"x-empty-bin", ""},
	} {
		wire := runtime.EncodeMetadataValue(tc.key, tc.value)
		got, err := runtime.DecodeMetadataValue(tc.key, wire)
		if err != nil || got != tc.value {
			t.Errorf("%s: %q → %q → %q, %v", tc.key, tc.value, wire, got, err)
		}
	}
	// Padded base64, as some peers send it, is accepted too.
	if got, err := runtime.DecodeMetadataValue("k-bin", "AAE="); err != nil || got != "\x00\x01" {
		t.Errorf("padded: %q, %v", got, err)
	}
	if _, err := runtime.DecodeMetadataValue("k-bin", "!!!"); err == nil {
		t.Error("bad base64 accepted")
	}
}

func TestHTTPStatusTable(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
		codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
		codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
	}
	for c, h := range want {
		if got := runtime.HTTPStatusFromCode(c); got != h {
			t.Errorf("HTTPStatusFromCode(%v) = %d, want %d", c, got, h)
		}
	}
	for h, c := range map[int]codes.Code{
		200: codes.OK, 400: codes.Internal, 401: codes.Unauthenticated, 403: codes.PermissionDenied,
		404: codes.Unimplemented, 429: codes.Unavailable, 502: codes.Unavailable,
		503: codes.Unavailable, 504: codes.Unavailable, 418: codes.Unknown, http.StatusInternalServerError: codes.Unknown,
	} {
		if got := runtime.CodeFromHTTPStatus(h); got != c {
			t.Errorf("CodeFromHTTPStatus(%d) = %v, want %v", h, got, c)
		}
	}
}

func TestNotSent(t *testing.T) {
	base := errors.New("dial tcp 127.0.0.1:1: connection refused")
	err := runtime.NotSent(base)
	if !errors.Is(err, runtime.ErrNotSent) || !errors.Is(err, base) {
		t.Errorf("NotSent(%v) does not match ErrNotSent and its cause", base)
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable for an error with no status", status.Code(err))
	}
	err = runtime.NotSent(status.Error(codes.ResourceExhausted, "too big"))
	if status.Code(err) != codes.ResourceExhausted || !errors.Is(err, runtime.ErrNotSent) {
		t.Errorf("NotSent lost the status: %v", err)
	}
	if runtime.NotSent(nil) != nil {
		t.Error("NotSent(nil) != nil")
	}
}

func TestToStatusError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{errors.New("boom"), codes.Unknown},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
	} {
		if got := status.Code(runtime.ToStatusError(tc.err)); got != tc.want {
			t.Errorf("ToStatusError(%v) code = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestReadCallOptions(t *testing.T) {
	var header, trailer metadata.MD
	var answered string
	var finished error = errors.New("not called")
	ci := runtime.ReadCallOptions([]grpc.CallOption{
		grpc.Header(&header), grpc.Trailer(&trailer), runtime.AnsweredBy(&answered),
		grpc.OnFinish(func(err error) { finished = err }), grpc.MaxCallRecvMsgSize(123),
		grpc.WaitForReady(true), // not for this layer: ignored
	})
	if ci.MaxRecvMsgSize != 123 {
		t.Errorf("MaxRecvMsgSize = %d", ci.MaxRecvMsgSize)
	}
	ci.Finish("http", metadata.Pairs("h", "1"), metadata.Pairs("t", "2"), nil)
	if header.Get("h")[0] != "1" || trailer.Get("t")[0] != "2" || answered != "http" || finished != nil {
		t.Errorf("Finish: header %v trailer %v answered %q finished %v", header, trailer, answered, finished)
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
	runtime.NewService(&helloworldsvc.Greeter_ServiceDesc, notAGreeter{})
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

// TestHandleUnaryFindsEveryMethod checks that a service finds each of its
// methods, and answers a descriptor that is not one of them with Internal.
func TestHandleUnaryFindsEveryMethod(t *testing.T) {
	svc := usersv1svc.NewUserServiceService(service.NewUsers())
	desc := svc.Desc()
	for i := range desc.Methods {
		m := &desc.Methods[i]
		if m.Kind != runtime.Unary {
			continue
		}
		_, err := svc.HandleUnary(context.Background(), m, m.NewRequest())
		// Each method answers with a reply or an error of its own
		// (NotFound, InvalidArgument...). Dispatching to another method's
		// handler would fail its type assertion: Internal.
		if status.Code(err) == codes.Internal {
			t.Errorf("%s dispatched wrongly: %v", m.Name, err)
		}
	}
	foreign := &helloworldsvc.Greeter_ServiceDesc.Methods[0]
	_, err := svc.HandleUnary(context.Background(), foreign, foreign.NewRequest())
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "is not part of service") {
		t.Errorf("a foreign descriptor gave %v, want Internal naming it", err)
	}
}
