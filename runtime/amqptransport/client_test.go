package amqptransport_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

func numGoroutine() int { return goruntime.NumGoroutine() }

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:goruntime.Stack(buf, true)])
}

func TestUnary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec runtime.Codec
		opts  []amqptransport.ClientOption
	}{
		{"proto", runtime.ProtoCodec{}, nil},
		{"json", &runtime.JSONCodec{}, nil},
		{"private reply queue", runtime.ProtoCodec{}, []amqptransport.ClientOption{amqptransport.WithPrivateReplyQueue()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, queue := broker(t)
			serve(t, url, queue, newGreeter("s1"))
			_, client := dial(t, url, queue, append(tc.opts, amqptransport.WithCodec(tc.codec))...)
			var answeredBy string
			var p peer.Peer
			reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "world"}, runtime.AnsweredBy(&answeredBy), grpc.Peer(&p))
			if err != nil {
				t.Fatalf("SayHello: %v", err)
			}
			if got, want := reply.GetMessage(), "Hello world from s1"; got != want {
				t.Errorf("reply = %q, want %q", got, want)
			}
			if answeredBy != "amqp" {
				t.Errorf("AnsweredBy = %q, want amqp", answeredBy)
			}
			if p.Addr == nil {
				t.Error("grpc.Peer: no address")
			}
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("caller-%d", i)
			reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: name})
			if err == nil && reply.GetMessage() != "Hello "+name+" from s1" {
				err = fmt.Errorf("caller %d got %q: replies crossed", i, reply.GetMessage())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestErrorWithDetails(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	_, client := dial(t, url, queue)
	_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "error"})
	st := wantCode(t, err, codes.InvalidArgument)
	if st.Message() != "name is not acceptable" {
		t.Errorf("message = %q", st.Message())
	}
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v, want one BadRequest", details)
	}
	br, ok := details[0].(*errdetails.BadRequest)
	if !ok || br.GetFieldViolations()[0].GetField() != "name" {
		t.Errorf("detail = %v, want a BadRequest on field name", details[0])
	}
}

func TestMetadataBothWays(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	_, client := dial(t, url, queue)
	ctx := metadata.AppendToOutgoingContext(testContext(t),
		"x-user", "ada", "x-user", "grace", "trace-bin", "\x00\x01\xff", "single", "one")
	var header, trailer metadata.MD
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "echo"}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("SayHello: %v", err)
	}
	if got := header.Get("x-user"); len(got) != 2 || got[0] != "ada" || got[1] != "grace" {
		t.Errorf("header x-user = %q, want [ada grace]", got)
	}
	if got := header.Get("trace-bin"); len(got) != 1 || got[0] != "\x00\x01\xff" {
		t.Errorf("header trace-bin = %q, want the bytes sent", got)
	}
	if got := header.Get("single"); len(got) != 1 || got[0] != "one" {
		t.Errorf("header single = %q", got)
	}
	if got := trailer.Get("trailer-echo"); len(got) != 1 || got[0] != "ada,grace" {
		t.Errorf("trailer = %v, want trailer-echo: ada,grace", trailer)
	}
	if _, ok := header["trailer-echo"]; ok {
		t.Error("trailer metadata arrived in the header")
	}
}

func TestDeadline(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	_, client := dial(t, url, queue)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
	wantCode(t, err, codes.DeadlineExceeded)
	// The handler ran with the caller's deadline, to the millisecond it
	// travels with.
	var hctx context.Context
	select {
	case hctx = <-g.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never started")
	}
	got, ok := hctx.Deadline()
	if !ok {
		t.Fatal("handler context has no deadline")
	}
	if d := got.Sub(want); d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("handler deadline %v, caller's %v", got, want)
	}
	select {
	case <-hctx.Done(): // the handler was cancelled by its deadline, not left running
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled at its deadline")
	}
}

// TestFarDeadline calls with a deadline decades away, while another call
// is in flight on the same channel: RabbitMQ refuses an expiration above
// ten years by closing the channel, which must not happen to either call.
func TestFarDeadline(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	_, client := dial(t, url, queue)
	inflight := make(chan error, 1)
	go func() {
		_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "block"})
		inflight <- err
	}()
	<-g.started
	far := time.Now().Add(50 * 365 * 24 * time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), far)
	defer cancel()
	// The test's own bound: the far deadline cannot end this call.
	go func() {
		select {
		case <-time.After(time.Minute):
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "far"}); err != nil {
		t.Errorf("call with a deadline 50 years away: %v", err)
	}
	close(g.release)
	if err := <-inflight; err != nil {
		t.Errorf("the call in flight failed: %v", err)
	}
}

func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []amqptransport.ClientOption
	}{
		{"direct reply-to", nil},
		{"private reply queue", []amqptransport.ClientOption{amqptransport.WithPrivateReplyQueue()}},
		{"isolated channel", []amqptransport.ClientOption{amqptransport.WithIsolationThreshold(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, queue := broker(t)
			g := newGreeter("s1")
			serve(t, url, queue, g)
			_, client := dial(t, url, queue, tc.opts...)
			ctx, cancel := context.WithCancel(testContext(t))
			errc := make(chan error, 1)
			go func() {
				_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
				errc <- err
			}()
			waitStarted(t, g) // the server holds the request
			cancel()
			// The call ends while the handler is still blocked: at once, not
			// when a reply comes.
			wantCode(t, <-errc, codes.Canceled)
			close(g.release) // the late reply is published, and dropped
			for i := range 3 {
				reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: fmt.Sprint(i)})
				if err != nil || reply.GetMessage() != fmt.Sprintf("Hello %d from s1", i) {
					t.Fatalf("call after a cancelled one: %v, %v", reply, err)
				}
			}
		})
	}
}

func TestNoServerFailsFast(t *testing.T) {
	url, queue := broker(t)
	_, client := dial(t, url, queue)
	// The context allows a minute: Unavailable rather than DeadlineExceeded
	// shows the broker's basic.return ended the call.
	_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "anyone"})
	wantCode(t, err, codes.Unavailable)
	if !errors.Is(err, runtime.ErrNotSent) {
		t.Errorf("error %v is not marked NotSent", err)
	}
	if !strings.Contains(err.Error(), queue) {
		t.Errorf("error %q does not name the queue", err)
	}
}

func TestPanickingHandler(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	_, client := dial(t, url, queue)
	_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "panic"})
	wantCode(t, err, codes.Internal)
	reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "after"})
	if err != nil || reply.GetMessage() != "Hello after from s1" {
		t.Fatalf("call after a panic: %v, %v", reply, err)
	}
}

func TestCompetingConsumers(t *testing.T) {
	url, queue := broker(t)
	a, b := newGreeter("a"), newGreeter("b")
	// One request at a time each: while a holds one request, the broker
	// must hand the other to b.
	serve(t, url, queue, a, amqptransport.WithConcurrency(1))
	serve(t, url, queue, b, amqptransport.WithConcurrency(1))
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	replies := make(chan string, 2)
	for range 2 {
		go func() {
			reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
			if err != nil {
				replies <- err.Error()
				return
			}
			replies <- reply.GetMessage()
		}()
	}
	// Both servers hold a request at once: the load is shared.
	select {
	case <-a.started:
	case <-ctx.Done():
		t.Fatal("server a got no request")
	}
	select {
	case <-b.started:
	case <-ctx.Done():
		t.Fatal("server b got no request")
	}
	close(a.release)
	close(b.release)
	got := []string{<-replies, <-replies}
	if !(got[0] == "released by a" && got[1] == "released by b" || got[0] == "released by b" && got[1] == "released by a") {
		t.Errorf("replies = %q, want one from each server", got)
	}
}

func TestStreamingIsUnimplemented(t *testing.T) {
	url, queue := broker(t)
	conn, _ := dial(t, url, queue)
	_, err := conn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/test.Chat/Chat")
	st := wantCode(t, err, codes.Unimplemented)
	if !strings.Contains(st.Message(), "gRPC") {
		t.Errorf("message %q does not say which transports stream", st.Message())
	}
}

func TestSizeLimits(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	g.bigReply = 2000
	serve(t, url, queue, g, amqptransport.WithMaxRecvMsgSize(1000))
	_, client := dial(t, url, queue, amqptransport.WithMaxSendMsgSize(5000), amqptransport.WithMaxRecvMsgSize(1500))
	ctx := testContext(t)

	t.Run("client refuses to send", func(t *testing.T) {
		before := g.calls.Load()
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: strings.Repeat("n", 6000)})
		wantCode(t, err, codes.ResourceExhausted)
		if g.calls.Load() != before {
			t.Error("the request reached the server")
		}
	})
	t.Run("server refuses to receive", func(t *testing.T) {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: strings.Repeat("n", 1200)})
		st := wantCode(t, err, codes.ResourceExhausted)
		if !strings.Contains(st.Message(), "server's limit") {
			t.Errorf("message %q", st.Message())
		}
	})
	t.Run("client refuses to receive", func(t *testing.T) {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "big"})
		wantCode(t, err, codes.ResourceExhausted)
	})
	t.Run("per-call option", func(t *testing.T) {
		if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "big"}, grpc.MaxCallRecvMsgSize(3000)); err != nil {
			t.Errorf("with grpc.MaxCallRecvMsgSize: %v", err)
		}
	})
	t.Run("server refuses to send", func(t *testing.T) {
		url, queue := broker(t)
		g := newGreeter("s2")
		g.bigReply = 2000
		serve(t, url, queue, g, amqptransport.WithMaxSendMsgSize(1000))
		_, client := dial(t, url, queue)
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "big"})
		wantCode(t, err, codes.ResourceExhausted)
	})
}

func TestMissingExchangeFailsOnlyThatCall(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	missing := "svcclient-test-no-such-exchange"
	conn, err := amqptransport.Dial(url, amqptransport.WithRouting(func(fullMethod string) (string, string) {
		if fullMethod == "/helloworld.Greeter/Missing" {
			return missing, queue
		}
		return "", queue
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := helloworldsvc.NewGreeterClient(conn)
	ctx := testContext(t)

	// A call in flight on the shared channel while the broker refuses the
	// other one.
	inflight := make(chan error, 1)
	go func() {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
		inflight <- err
	}()
	waitStarted(t, g)

	err = conn.Invoke(ctx, "/helloworld.Greeter/Missing", &helloworld.HelloRequest{Name: "x"}, new(helloworld.HelloReply))
	st := wantCode(t, err, codes.Unavailable)
	if !strings.Contains(st.Message(), missing) || !strings.Contains(st.Message(), "404") {
		t.Errorf("message %q does not name the exchange and the 404", st.Message())
	}
	if !errors.Is(err, runtime.ErrNotSent) {
		t.Error("a request refused by the broker is not marked NotSent")
	}

	close(g.release)
	if err := <-inflight; err != nil {
		t.Errorf("the call in flight failed with the other's error: %v", err)
	}
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "next"}); err != nil {
		t.Errorf("next call: %v", err)
	}
}

// TestCallAfterClose: a Conn used after Close fails at once with Canceled,
// as a closed grpc.ClientConn does.
func TestCallAfterClose(t *testing.T) {
	url, queue := broker(t)
	conn, client := dial(t, url, queue)
	conn.Close()
	_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "late"})
	wantCode(t, err, codes.Canceled)
	if !errors.Is(err, runtime.ErrNotSent) {
		t.Error("a call on a closed Conn is not marked NotSent")
	}
}

func TestGoroutinesReleasedAfterClose(t *testing.T) {
	url, queue := broker(t)
	base := numGoroutine()
	g := newGreeter("s1")
	srv := amqptransport.NewServer(amqptransport.WithLogger(quietLogger))
	srv.Register(helloworldsvc.NewGreeterService(g), amqptransport.WithQueue(queue))
	if err := srv.Start(url); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]amqptransport.ClientOption{nil, {amqptransport.WithPrivateReplyQueue()}} {
		conn, err := amqptransport.Dial(url, append(opts, toQueue(queue), amqptransport.WithIsolationThreshold(10))...)
		if err != nil {
			t.Fatal(err)
		}
		client := helloworldsvc.NewGreeterClient(conn)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "short"
				if i%2 == 0 {
					name = strings.Repeat("long", 10) // isolated channel
				}
				if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: name}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		ctx, cancel := context.WithCancel(testContext(t))
		go func() { <-g.started; cancel() }()
		_, err = client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
		wantCode(t, err, codes.Canceled)
		conn.Close()
	}
	close(g.release) // the cancelled calls' handlers still hold their requests
	if err := srv.Shutdown(testContext(t)); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestPublishedRequestProperties(t *testing.T) {
	// What our client puts on the wire, read by a raw consumer: the
	// properties docs/amqp-protocol.md promises.
	url, queue := broker(t)
	rawConn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer rawConn.Close()
	ch, _ := rawConn.Channel()
	if _, err := ch.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, client := dial(t, url, queue, amqptransport.WithCodec(&runtime.JSONCodec{}))
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-user", "ada"), 30*time.Second)
	defer cancel()
	go client.SayHello(ctx, &helloworld.HelloRequest{Name: "props"})
	d := <-deliveries
	deadline, _ := ctx.Deadline()
	checks := []struct {
		what      string
		got, want any
	}{
		{"type", d.Type, "/helloworld.Greeter/SayHello"},
		{"content_type", d.ContentType, "application/json"},
		{"reply_to", d.ReplyTo, "amq.rabbitmq.reply-to"},
		{"body", string(d.Body), `{"name":"props"}`},
		{"rpc-deadline", d.Headers["rpc-deadline"], deadline.UnixMilli()},
		{"x-user", d.Headers["x-user"], "ada"},
	}
	for _, c := range checks {
		if c.what == "reply_to" {
			// The broker rewrites amq.rabbitmq.reply-to to the channel's address.
			if s := c.got.(string); !strings.HasPrefix(s, "amq.rabbitmq.reply-to.") {
				t.Errorf("reply_to = %q", s)
			}
			continue
		}
		if c.got != c.want {
			t.Errorf("%s = %v (%T), want %v (%T)", c.what, c.got, c.got, c.want, c.want)
		}
	}
	if d.CorrelationId == "" {
		t.Error("no correlation_id")
	}
	if d.Expiration == "" {
		t.Error("no expiration")
	}
}

func TestTLS(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	proxy, tlsConfig := amqptest.NewTLSProxy(t, url)
	if !strings.HasPrefix(proxy.URL(), "amqps://") {
		t.Fatalf("proxy URL %s", proxy.URL())
	}
	// Without the test CA the handshake fails: the custom config is what
	// makes the connection.
	if conn, err := amqptransport.Dial(proxy.URL(), toQueue(queue)); err == nil {
		conn.Close()
		t.Fatal("Dial without the CA succeeded")
	}
	_, client := dial(t, proxy.URL(), queue, amqptransport.WithTLSConfig(tlsConfig))
	reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "tls"})
	if err != nil || reply.GetMessage() != "Hello tls from s1" {
		t.Fatalf("over amqps: %v, %v", reply, err)
	}
	if tlsConfig.ServerName != "" {
		t.Error("the caller's tls.Config was modified")
	}
}

// TestEveryCallOptionHonoured gives two of each grpc.Header, grpc.Trailer,
// grpc.Peer and grpc.OnFinish, as grpc-go allows: every one is filled, and
// every callback runs once with the call's outcome, on success and on a
// server error alike.
func TestEveryCallOptionHonoured(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	_, client := dial(t, url, queue)
	for _, tc := range []struct {
		name string
		want codes.Code
	}{{"echo", codes.OK}, {"error", codes.InvalidArgument}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-user", "ada")
			var headers, trailers [2]metadata.MD
			var peers [2]peer.Peer
			var finished [2][]error
			_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: tc.name},
				grpc.Header(&headers[0]), grpc.Trailer(&trailers[0]), grpc.Peer(&peers[0]),
				grpc.OnFinish(func(err error) { finished[0] = append(finished[0], err) }),
				grpc.Header(&headers[1]), grpc.Trailer(&trailers[1]), grpc.Peer(&peers[1]),
				grpc.OnFinish(func(err error) { finished[1] = append(finished[1], err) }))
			if status.Code(err) != tc.want {
				t.Fatalf("SayHello: %v, want %v", err, tc.want)
			}
			for i := range 2 {
				if tc.want == codes.OK && len(headers[i].Get("x-user")) != 1 {
					t.Errorf("grpc.Header #%d = %v, want the echoed x-user", i+1, headers[i])
				}
				if tc.want == codes.OK && len(trailers[i].Get("trailer-echo")) != 1 {
					t.Errorf("grpc.Trailer #%d = %v, want trailer-echo", i+1, trailers[i])
				}
				if peers[i].Addr == nil || peers[i].LocalAddr == nil {
					t.Errorf("grpc.Peer #%d = %+v, want the broker's and our address", i+1, peers[i])
				}
				if len(finished[i]) != 1 || status.Code(finished[i][0]) != tc.want {
					t.Errorf("grpc.OnFinish #%d ran with %v, want once with %v", i+1, finished[i], tc.want)
				}
			}
		})
	}
}

// bearer is a grpc PerRPCCredentials that sends a token, records the
// audience it is asked for, or fails.
type bearer struct {
	token    string
	secure   bool
	err      error
	audience *string
}

func (b bearer) GetRequestMetadata(_ context.Context, uri ...string) (map[string]string, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.audience != nil && len(uri) > 0 {
		*b.audience = uri[0]
	}
	return map[string]string{"Authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// TestPerRPCCredentials checks grpc.PerRPCCredentials as grpc-go honours
// it: the metadata travels with the request, credentials that require
// transport security go over amqps:// only, and a failure fails the call
// before it is sent.
func TestPerRPCCredentials(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	_, client := dial(t, url, queue)
	echo := &helloworld.HelloRequest{Name: "echo"}

	var header metadata.MD
	var audience string
	_, err := client.SayHello(testContext(t), echo, grpc.Header(&header), grpc.PerRPCCredentials(bearer{token: "t1", audience: &audience}))
	if err != nil {
		t.Fatalf("SayHello: %v", err)
	}
	if got := header.Get("authorization"); len(got) != 1 || got[0] != "Bearer t1" {
		t.Errorf("the server saw authorization %q, want [Bearer t1]", got)
	}
	if !strings.HasPrefix(audience, "amqp://127.0.0.1:") || !strings.HasSuffix(audience, "/helloworld.Greeter") {
		t.Errorf("audience = %q, want amqp://127.0.0.1:port/helloworld.Greeter", audience)
	}

	before := g.calls.Load()
	for name, creds := range map[string]bearer{
		"security required over amqp://": {token: "t2", secure: true},
		"credentials fail":               {err: errors.New("no token today")},
	} {
		_, err := client.SayHello(testContext(t), echo, grpc.PerRPCCredentials(creds))
		wantCode(t, err, codes.Unauthenticated)
		if !errors.Is(err, runtime.ErrNotSent) {
			t.Errorf("%s: %v is not marked as not sent", name, err)
		}
	}
	if g.calls.Load() != before {
		t.Error("a call whose credentials were refused reached the server")
	}

	proxy, tlsConfig := amqptest.NewTLSProxy(t, url)
	_, tlsClient := dial(t, proxy.URL(), queue, amqptransport.WithTLSConfig(tlsConfig))
	header = nil
	if _, err := tlsClient.SayHello(testContext(t), echo, grpc.Header(&header), grpc.PerRPCCredentials(bearer{token: "t3", secure: true})); err != nil {
		t.Fatalf("over amqps: %v", err)
	}
	if got := header.Get("authorization"); len(got) != 1 || got[0] != "Bearer t3" {
		t.Errorf("over amqps the server saw authorization %q, want [Bearer t3]", got)
	}
}
