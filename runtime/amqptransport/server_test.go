package amqptransport_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// rawClient calls a server the way a minimal client in any language does:
// a channel consuming Direct Reply-to, and a publish with reply_to and
// correlation_id set.
type rawClient struct {
	t          *testing.T
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
	seq        int
}

func newRawClient(t *testing.T, url string) *rawClient {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(amqptransport.DirectReplyTo, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, ch: ch, deliveries: deliveries}
}

// call publishes pub to queue with reply_to and correlation_id set, and
// returns the reply.
func (c *rawClient) call(queue string, pub amqp.Publishing) amqp.Delivery {
	c.t.Helper()
	c.seq++
	pub.ReplyTo = amqptransport.DirectReplyTo
	pub.CorrelationId = "raw-" + strconv.Itoa(c.seq)
	if err := c.ch.Publish("", queue, false, false, pub); err != nil {
		c.t.Fatal(err)
	}
	ctx := testContext(c.t)
	for {
		select {
		case d := <-c.deliveries:
			if d.CorrelationId == pub.CorrelationId {
				return d
			}
		case <-ctx.Done():
			c.t.Fatal("no reply")
		}
	}
}

func replyCode(t *testing.T, d amqp.Delivery) codes.Code {
	t.Helper()
	v, ok := d.Headers["rpc-status"]
	if !ok {
		return codes.OK
	}
	n, ok := v.(int32)
	if !ok {
		t.Fatalf("rpc-status is %T, want int32", v)
	}
	return codes.Code(n)
}

func TestServerAnswersMinimalClient(t *testing.T) {
	url, queue := broker(t)
	serve(t, url, queue, newGreeter("s1"))
	c := newRawClient(t, url)
	body, _ := proto.Marshal(&helloworld.HelloRequest{Name: "raw"})
	for _, method := range []string{"/helloworld.Greeter/SayHello", "SayHello"} {
		// Only reply_to, correlation_id, the method and a body.
		d := c.call(queue, amqp.Publishing{Type: method, Body: body})
		if code := replyCode(t, d); code != codes.OK {
			t.Fatalf("type %q: status %v: %v", method, code, d.Headers["rpc-message"])
		}
		if _, ok := d.Headers["rpc-status"]; ok {
			t.Error("a success carries rpc-status")
		}
		var reply helloworld.HelloReply
		if err := proto.Unmarshal(d.Body, &reply); err != nil || reply.GetMessage() != "Hello raw from s1" {
			t.Errorf("reply %q, %v", d.Body, err)
		}
		if d.ContentType != "application/proto" {
			t.Errorf("content_type = %q", d.ContentType)
		}
	}
}

func TestServerRejects(t *testing.T) {
	url := amqptest.URL(t)
	queue := amqptest.Queue(t, url)
	g := newGreeter("s1")
	// A queue that outlives the server, to see afterwards that every
	// request was acked.
	durable := amqptransport.WithQueueSetup(func(ch *amqp.Channel, q string) error {
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		return err
	})
	srv := amqptransport.NewServer(amqptransport.WithLogger(quietLogger), amqptransport.WithMaxRecvMsgSize(100))
	srv.Register(helloworldsvc.NewGreeterService(g), amqptransport.WithQueue(queue), durable)
	if err := srv.Start(url); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newRawClient(t, url)
	good, _ := proto.Marshal(&helloworld.HelloRequest{Name: "x"})
	past := time.Now().Add(-time.Second).UnixMilli()
	for _, tc := range []struct {
		name string
		pub  amqp.Publishing
		want codes.Code
	}{
		{"malformed proto", amqp.Publishing{Type: "SayHello", ContentType: "application/proto", Body: []byte{0xff, 0xff, 0xff}}, codes.InvalidArgument},
		{"malformed json", amqp.Publishing{Type: "SayHello", ContentType: "application/json", Body: []byte(`{"name":`)}, codes.InvalidArgument},
		{"unknown content type", amqp.Publishing{Type: "SayHello", ContentType: "text/plain", Body: good}, codes.InvalidArgument},
		{"no method", amqp.Publishing{Body: good}, codes.InvalidArgument},
		{"unknown method", amqp.Publishing{Type: "/helloworld.Greeter/SayGoodbye", Body: good}, codes.Unimplemented},
		{"other service", amqp.Publishing{Type: "/other.Service/SayHello", Body: good}, codes.Unimplemented},
		{"deadline passed", amqp.Publishing{Type: "SayHello", Body: good, Headers: amqp.Table{"rpc-deadline": past}}, codes.DeadlineExceeded},
		{"bad deadline", amqp.Publishing{Type: "SayHello", Body: good, Headers: amqp.Table{"rpc-deadline": "soon"}}, codes.InvalidArgument},
		{"too large", amqp.Publishing{Type: "SayHello", Body: make([]byte, 101)}, codes.ResourceExhausted},
		{"deadline a table", amqp.Publishing{Type: "SayHello", Body: good, Headers: amqp.Table{"rpc-deadline": amqp.Table{"x": int32(1)}}}, codes.InvalidArgument},
		{"compressed", amqp.Publishing{Type: "SayHello", ContentEncoding: "gzip", Body: good}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := c.call(queue, tc.pub)
			if got := replyCode(t, d); got != tc.want {
				t.Errorf("status %v (%v), want %v", got, d.Headers["rpc-message"], tc.want)
			}
		})
	}
	if n := g.calls.Load(); n != 0 {
		t.Errorf("the handler ran %d times, want 0: none of these requests may be executed", n)
	}
	// The server keeps serving after them, and malformed metadata (binary
	// values not in base64, tables, arrays of tables) is dropped, not fatal.
	d := c.call(queue, amqp.Publishing{Type: "SayHello", Body: good, Headers: amqp.Table{
		"trace-bin": "!!not base64!!", "x-death": []any{amqp.Table{"count": int64(1)}}, "nested": amqp.Table{"a": "b"},
	}})
	if got := replyCode(t, d); got != codes.OK {
		t.Errorf("a good request after the bad ones: status %v (%v)", got, d.Headers["rpc-message"])
	}
	g.calls.Store(0)
	// Shutdown, not Close: the last reply reached us before the broker
	// confirmed it to the server, which acks the request only then; Close
	// could cut that ack off and requeue the request (at-least-once).
	// Unacked requests would be requeued now.
	if err := srv.Shutdown(testContext(t)); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != 0 {
		t.Errorf("%d requests left in the queue: rejected requests must be acked", q.Messages)
	}
}

func TestClientAcceptsTutorialServer(t *testing.T) {
	// A server written as RabbitMQ's RPC tutorial writes one: it knows
	// nothing of rpc-* headers and replies with the correlation_id alone.
	url, queue := broker(t)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	if _, err := ch.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range deliveries {
			_ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{
				CorrelationId: d.CorrelationId,
				Body:          []byte(`{"message":"tutorial says hi","servedAt":1767225605}`),
			})
			_ = d.Ack(false)
		}
	}()
	// The README's recipe: JSON, unknown fields ignored (servedAt).
	json := &runtime.JSONCodec{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}
	_, client := dial(t, url, queue, amqptransport.WithCodec(json))
	reply, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetMessage() != "tutorial says hi" {
		t.Errorf("reply = %q", reply.GetMessage())
	}
	// With the default codec the request is protobuf binary, and the reply,
	// without content_type, is read as protobuf too: the JSON text is not,
	// and the call fails with Internal (as the README says), not at its
	// deadline.
	_, client = dial(t, url, queue)
	if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "x"}); status.Code(err) != codes.Internal {
		t.Errorf("default codec against a JSON service: %v, want Internal", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	srv := serve(t, url, queue, g)
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	result := make(chan error, 1)
	go func() {
		reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
		if err == nil && reply.GetMessage() != "released by s1" {
			err = fmt.Errorf("reply %q", reply.GetMessage())
		}
		result <- err
	}()
	waitStarted(t, g)
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(ctx) }()
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	case err := <-result:
		t.Fatalf("the call ended (%v) before its handler returned", err)
	case <-time.After(100 * time.Millisecond):
		// Not a timing assertion: a chance for a wrong Shutdown to show.
	}
	close(g.release)
	if err := <-result; err != nil {
		t.Errorf("the call in flight during Shutdown: %v", err)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The server is gone but its queue stays (no longer auto-delete), with
	// no consumer: requests wait there for the next server. Failing calls
	// fast meanwhile is the client's presence probe (consumer_count 0).
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("the request queue after Shutdown: %v", err)
	}
	if q.Consumers != 0 {
		t.Errorf("%d consumers after Shutdown, want 0", q.Consumers)
	}
	if err := srv.Serve(url); err == nil || errors.Is(err, amqptransport.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want an error", err)
	}
}

// TestConnectionDrop cuts the client's connection under traffic: every call
// in flight ends promptly with Unavailable, none hangs, and the same client
// works once it has reconnected.
func TestConnectionDrop(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []amqptransport.ClientOption
	}{
		{"direct reply-to", nil},
		{"private reply queue", []amqptransport.ClientOption{amqptransport.WithPrivateReplyQueue()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, queue := broker(t)
			g := newGreeter("s1")
			serve(t, url, queue, g)
			proxy := amqptest.NewProxy(t, url)
			_, client := dial(t, proxy.URL(), queue, tc.opts...)
			ctx := testContext(t)

			// Calls held by the server, and a stream of fast calls.
			const held = 10
			errs := make(chan error, held)
			for range held {
				go func() {
					_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
					errs <- err
				}()
			}
			for range held {
				waitStarted(t, g)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			traffic := map[codes.Code]int{}
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "fast"})
						mu.Lock()
						traffic[runtimeCode(err)]++
						mu.Unlock()
					}
				}()
			}
			proxy.Cut()
			for range held {
				// ctx allows a minute: Unavailable shows the loss was noticed.
				wantCode(t, <-errs, codes.Unavailable)
			}
			close(stop)
			wg.Wait()
			for code := range traffic {
				if code != codes.OK && code != codes.Unavailable {
					t.Errorf("a call during the cut ended with %v", code)
				}
			}
			close(g.release)
			// Back without rebuilding the client: WaitForReady waits for the
			// reconnect instead of failing fast meanwhile.
			for i := range 5 {
				reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: fmt.Sprint(i)}, grpc.WaitForReady(true))
				if err != nil || reply.GetMessage() != fmt.Sprintf("Hello %d from s1", i) {
					t.Fatalf("call after reconnect: %v, %v", reply, err)
				}
			}
		})
	}
}

func runtimeCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	return status.Code(err)
}

// TestServerReconnects cuts the server's connection, as a broker restart
// would: the server reconnects, declares its queue again and serves.
func TestServerReconnects(t *testing.T) {
	url, queue := broker(t)
	proxy := amqptest.NewProxy(t, url)
	g := newGreeter("s1")
	serve(t, proxy.URL(), queue, g, amqptransport.WithReconnectBackoff(fastBackoff))
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	// Until the server is back its auto-delete queue is gone and calls fail
	// fast. A request that reached the queue as the server's connection
	// died is deleted with the queue, unanswered: a caller sees that as its
	// deadline (docs/amqp-protocol.md says so), hence the short one here.
	// Retry until the server serves again, bounded by ctx.
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		reply, err := client.SayHello(callCtx, &helloworld.HelloRequest{Name: "after"})
		cancel()
		if err == nil {
			if reply.GetMessage() != "Hello after from s1" {
				t.Fatalf("reply %q", reply.GetMessage())
			}
			return
		}
		if code := runtimeCode(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Fatalf("while the server reconnects: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the server did not come back")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestBrokerClosesConnection has the broker itself close the client's
// connection (rabbitmqctl close_connection), as an operator or a node
// shutdown does: connection.close rather than a cut socket.
func TestBrokerClosesConnection(t *testing.T) {
	url, queue := broker(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found; TestConnectionDrop covers a cut connection")
	}
	g := newGreeter("s1")
	serve(t, url, queue, g)
	name := "svcclient-test-" + queue
	conn, client := dial(t, url, queue, amqptransport.WithAMQPConfig(amqp.Config{Properties: amqp.Table{"connection_name": name}}))
	_ = conn
	ctx := testContext(t)
	errs := make(chan error, 1)
	go func() {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
		errs <- err
	}()
	waitStarted(t, g)
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_connections", "pid", "client_properties").CombinedOutput()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v: %s", err, out)
	}
	var pid string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, name) {
			pid = strings.SplitN(line, "\t", 2)[0]
		}
	}
	if pid == "" {
		t.Skipf("the broker rabbitmqctl manages is not the one at AMQP_URL: no connection named %s", name)
	}
	if out, err := exec.CommandContext(ctx, "rabbitmqctl", "close_connection", pid, "test closes it").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl close_connection: %v: %s", err, out)
	}
	st := wantCode(t, <-errs, codes.Unavailable)
	if !strings.Contains(st.Message(), "test closes it") {
		t.Errorf("message %q does not carry the broker's reason", st.Message())
	}
	close(g.release)
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "back"}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}

// TestOversizedForBrokerFailsOnlyThatCall lowers the broker's
// max_message_size, so that it refuses a request by closing its channel
// (406); the call fails alone, with ResourceExhausted.
func TestOversizedForBrokerFailsOnlyThatCall(t *testing.T) {
	url, queue := broker(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found: cannot lower the broker's max_message_size")
	}
	setMax := func(n int) error {
		out, err := exec.Command("rabbitmqctl", "eval", fmt.Sprintf("application:set_env(rabbit, max_message_size, %d).", n)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	out, err := exec.Command("rabbitmqctl", "eval", "application:get_env(rabbit, max_message_size).").CombinedOutput()
	if err != nil {
		t.Skipf("rabbitmqctl eval: %v: %s", err, out)
	}
	var orig int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "{ok,%d}", &orig); err != nil {
		t.Skipf("reading max_message_size from %q: %v", out, err)
	}
	g := newGreeter("s1")
	serve(t, url, queue, g)
	if err := setMax(200 << 10); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() {
		if err := setMax(orig); err != nil {
			t.Errorf("restoring max_message_size: %v", err)
		}
	})
	// Dialled after the change: RabbitMQ reads the limit when a channel opens.
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	inflight := make(chan error, 1)
	go func() {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "block"})
		inflight <- err
	}()
	waitStarted(t, g)
	_, err = client.SayHello(ctx, &helloworld.HelloRequest{Name: strings.Repeat("x", 300<<10)})
	st := wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(st.Message(), "406") {
		t.Errorf("message %q does not carry the broker's 406", st.Message())
	}
	close(g.release)
	if err := <-inflight; err != nil {
		t.Errorf("the call in flight failed with the other's error: %v", err)
	}
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "next"}); err != nil {
		t.Errorf("next call: %v", err)
	}
}

var fastBackoff = amqptransport.DefaultBackoff

func init() {
	fastBackoff.BaseDelay = 20 * time.Millisecond
	fastBackoff.MaxDelay = 200 * time.Millisecond
}
