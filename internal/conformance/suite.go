package conformance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/runtime"
)

// Transport is what the suite needs of a transport under test.
type Transport struct {
	// Name is what runtime.AnsweredBy reports for it.
	Name string
	// Serve serves the services over the transport for the rest of the
	// test (cleaning up with t.Cleanup) and returns a Conn that reaches them.
	Serve func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface
	// Which streaming kinds the transport carries. For the others the suite
	// checks that a call fails with Unimplemented.
	ServerStreaming, ClientStreaming, BidiStreaming bool
}

// Run runs the whole suite against tr.
func Run(t *testing.T, tr Transport) {
	RunCalls(t, tr)
	t.Run("deadline", func(t *testing.T) { testDeadline(t, tr) })
	t.Run("cancel", func(t *testing.T) { testCancel(t, tr) })
	t.Run("panic", func(t *testing.T) { testPanic(t, tr) })
	t.Run("interceptor order", func(t *testing.T) { testInterceptorOrder(t, tr) })
	t.Run("client streaming", func(t *testing.T) { testClientStreaming(t, tr) })
	t.Run("bidi streaming", func(t *testing.T) { testBidiStreaming(t, tr) })
}

// RunCalls runs the part of the suite that checks what crosses the wire,
// not the transport's timing: a unary call, an error with details, metadata
// both ways and a server stream. The TLS matrix runs it over every
// transport and TLS setting.
func RunCalls(t *testing.T, tr Transport) {
	t.Run("unary", func(t *testing.T) { testUnary(t, tr) })
	t.Run("status details", func(t *testing.T) { testStatusDetails(t, tr) })
	t.Run("metadata", func(t *testing.T) { testMetadata(t, tr) })
	t.Run("server streaming", func(t *testing.T) { testServerStreaming(t, tr) })
}

func serve(t *testing.T, tr Transport, clientOpts []runtime.ClientOption, serviceOpts ...runtime.ServiceOption) (helloworldsvc.GreeterClient, streamingv1svc.CounterServiceClient) {
	t.Helper()
	conn := tr.Serve(t,
		helloworldsvc.NewGreeterService(Greeter{}, serviceOpts...),
		streamingv1svc.NewCounterServiceService(Counter{}, serviceOpts...),
	)
	return helloworldsvc.NewGreeterClient(conn, clientOpts...), streamingv1svc.NewCounterServiceClient(conn, clientOpts...)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) carries no status", err, err)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

func testUnary(t *testing.T, tr Transport) {
	greeter, _ := serve(t, tr, nil)
	var answeredBy string
	reply, err := greeter.SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"}, runtime.AnsweredBy(&answeredBy))
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetMessage() != "Hello, Ada" {
		t.Errorf("reply = %q, want %q", reply.GetMessage(), "Hello, Ada")
	}
	if answeredBy != tr.Name {
		t.Errorf("AnsweredBy = %q, want %q", answeredBy, tr.Name)
	}
}

func testStatusDetails(t *testing.T, tr Transport) {
	greeter, _ := serve(t, tr, nil)
	_, err := greeter.SayHello(testContext(t), &helloworld.HelloRequest{Name: "error"})
	st := wantCode(t, err, codes.NotFound)
	if st.Message() != "no such name" {
		t.Errorf("message = %q, want %q", st.Message(), "no such name")
	}
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v, want one ErrorInfo", details)
	}
	info, ok := details[0].(*errdetails.ErrorInfo)
	if !ok {
		t.Fatalf("detail is %T, want *errdetails.ErrorInfo", details[0])
	}
	if info.GetReason() != ErrorReason || info.GetMetadata()["name"] != "error" {
		t.Errorf("detail = %v, want reason %s and metadata name=error", info, ErrorReason)
	}
}

func testMetadata(t *testing.T, tr Transport) {
	greeter, _ := serve(t, tr, nil)
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "req-42", "x-token-bin", "\x00\x01\xfe")
	var header, trailer metadata.MD
	reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "metadata"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetMessage() != "req-42" {
		t.Errorf("server saw x-request-id %q, want %q", reply.GetMessage(), "req-42")
	}
	if got := header.Get("x-echo"); !slices.Equal(got, []string{"req-42"}) {
		t.Errorf("header x-echo = %q, want [req-42]", got)
	}
	if got := header.Get("x-echo-bin"); !slices.Equal(got, []string{"\x00\x01\xfe"}) {
		t.Errorf("header x-echo-bin = %q, want the binary value sent", got)
	}
	if got := trailer.Get("x-trailer"); !slices.Equal(got, []string{"done"}) {
		t.Errorf("trailer x-trailer = %q, want [done]", got)
	}
}

func testDeadline(t *testing.T, tr Transport) {
	greeter, _ := serve(t, tr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "deadline"})
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetMessage() != "deadline:true" {
		t.Errorf("the handler's context has no deadline (%q): the deadline did not travel", reply.GetMessage())
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
	wantCode(t, err, codes.DeadlineExceeded)
}

func testCancel(t *testing.T, tr Transport) {
	greeter, _ := serve(t, tr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
	wantCode(t, err, codes.Canceled)
	// A call on a context cancelled before it starts fails the same way.
	_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"})
	wantCode(t, err, codes.Canceled)
}

// testPanic checks that a panicking handler answers Internal without the
// panic value, that the value and the stack reach the service's logger, and
// that the server keeps serving.
func testPanic(t *testing.T, tr Transport) {
	log, logger := PanicLog()
	greeter, counter := serve(t, tr, nil, runtime.WithLogger(logger))
	_, err := greeter.SayHello(testContext(t), &helloworld.HelloRequest{Name: "panic"})
	WantPanicHidden(t, err, log, "/helloworld.Greeter/SayHello")
	if _, err := greeter.SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"}); err != nil {
		t.Fatalf("the server did not keep serving after a panic: %v", err)
	}
	if !tr.ServerStreaming {
		return
	}
	log.Reset()
	stream, err := counter.Count(testContext(t), &streamingv1.CountRequest{To: PanicCount})
	if err == nil {
		_, err = stream.Recv()
	}
	WantPanicHidden(t, err, log, "/example.streaming.v1.CounterService/Count")
}

// PanicLog returns a logger for runtime.WithLogger and the log it writes.
func PanicLog() (*LockedBuffer, *slog.Logger) {
	var b LockedBuffer
	return &b, slog.New(slog.NewTextHandler(&b, nil))
}

// WantPanicHidden checks the outcome of a call whose handler panicked with
// PanicSecret: err is Internal and does not hold the secret; the log holds
// the method, the secret and a stack.
func WantPanicHidden(t *testing.T, err error, log *LockedBuffer, method string) {
	t.Helper()
	wantCode(t, err, codes.Internal)
	if strings.Contains(err.Error(), PanicSecret) {
		t.Errorf("the client saw the panic value: %v", err)
	}
	got := log.String()
	for _, want := range []string{method, PanicSecret, "goroutine ", "panic("} {
		if !strings.Contains(got, want) {
			t.Errorf("the server's log lacks %q:\n%s", want, got)
		}
	}
}

// LockedBuffer is a bytes.Buffer safe for a server's goroutines to write
// while a test reads it. The race detector cannot see that a reply crossing
// a socket orders the server's write before the test's read.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Reset forgets what was written.
func (b *LockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// recorder collects the order interceptors run in.
type recorder struct {
	mu    sync.Mutex
	steps []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps
	r.steps = nil
	return s
}

func testInterceptorOrder(t *testing.T, tr Transport) {
	var rec recorder
	unary := func(name string) grpc.UnaryClientInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			rec.add("client " + name + " " + path.Base(method))
			err := invoker(ctx, method, req, reply, cc, opts...)
			rec.add("client " + name + " done")
			return err
		}
	}
	stream := func(name string) grpc.StreamClientInterceptor {
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			rec.add("client stream " + name + " " + path.Base(method))
			return streamer(ctx, desc, cc, method, opts...)
		}
	}
	server := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			rec.add("server " + name + " " + info.FullMethod)
			return handler(ctx, req)
		}
	}
	greeter, counter := serve(t, tr,
		[]runtime.ClientOption{
			runtime.WithUnaryInterceptors(unary("a"), unary("b")),
			runtime.WithUnaryInterceptors(unary("c")),
			runtime.WithStreamInterceptors(stream("a"), stream("b")),
		},
		runtime.WithServerUnaryInterceptors(server("a"), server("b")),
	)
	if _, err := greeter.SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"client a SayHello", "client b SayHello", "client c SayHello",
		"server a /helloworld.Greeter/SayHello", "server b /helloworld.Greeter/SayHello",
		"client c done", "client b done", "client a done",
	}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("unary interceptors ran in order\n%q\nwant\n%q", got, want)
	}
	// Stream interceptors run when a stream opens, whether or not the
	// transport then carries it.
	_, _ = counter.Count(testContext(t), &streamingv1.CountRequest{To: 1})
	want = []string{"client stream a Count", "client stream b Count"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("stream interceptors ran in order %q, want %q", got, want)
	}
}

func testServerStreaming(t *testing.T, tr Transport) {
	_, counter := serve(t, tr, nil)
	stream, err := counter.Count(testContext(t), &streamingv1.CountRequest{To: 5})
	if !tr.ServerStreaming {
		wantUnimplemented(t, stream, err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msg.GetNumber())
	}
	if want := []int64{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
	header, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-count"); !slices.Equal(got, []string{"5"}) {
		t.Errorf("header x-count = %q, want [5]", got)
	}
	if got := stream.Trailer().Get("x-counted"); !slices.Equal(got, []string{"5"}) {
		t.Errorf("trailer x-counted = %q, want [5]", got)
	}

	// An error after the stream has started reaches Recv with its status.
	stream, err = counter.Count(testContext(t), &streamingv1.CountRequest{To: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	_, err = stream.Recv()
	wantCode(t, err, codes.InvalidArgument)
}

// wantUnimplemented checks that a streaming kind a transport does not carry
// fails clearly, when the stream opens or at its first receive.
func wantUnimplemented(t *testing.T, stream any, err error) {
	t.Helper()
	if err == nil {
		if s, ok := stream.(interface{ RecvMsg(any) error }); ok {
			err = s.RecvMsg(new(streamingv1.CountResponse))
		}
	}
	if err == nil {
		t.Fatal("a streaming kind the transport does not carry did not fail")
	}
	wantCode(t, err, codes.Unimplemented)
}

func testClientStreaming(t *testing.T, tr Transport) {
	_, counter := serve(t, tr, nil)
	stream, err := counter.Sum(testContext(t))
	if !tr.ClientStreaming {
		wantUnimplemented(t, stream, err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 10; i++ {
		if err := stream.Send(&streamingv1.SumRequest{Number: i}); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetTotal() != 55 || reply.GetCount() != 10 {
		t.Errorf("sum = %v, want total 55 of 10 numbers", reply)
	}
}

func testBidiStreaming(t *testing.T, tr Transport) {
	_, counter := serve(t, tr, nil)
	stream, err := counter.Echo(testContext(t))
	if !tr.BidiStreaming {
		wantUnimplemented(t, stream, err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// Each answer arrives before the next request is sent: the stream is
	// really bidirectional, not buffered until the client closes.
	for i, text := range []string{"one", "two", "three"} {
		if err := stream.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
			t.Fatal(err)
		}
		reply, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if reply.GetText() != text || reply.GetSequence() != int64(i+1) {
			t.Errorf("reply %d = %v, want %q #%d", i, reply, text, i+1)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend, Recv = %v, want io.EOF", err)
	}
}
