package amqptransport_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// rawChannel opens a plain amqp091-go channel on url for the test's own
// declarations and consumers, closed when the test ends.
func rawChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("raw channel: %v", err)
	}
	return ch
}

// declareDurable declares queue as the issue 10 servers will: durable and
// not auto-delete, so that it outlives its consumers.
func declareDurable(t testing.TB, ch *amqp.Channel, queue string) {
	t.Helper()
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatalf("declaring %s: %v", queue, err)
	}
}

// rawServer consumes queue on ch and answers every request with an empty
// HelloReply (a valid protobuf message), as a minimal server would, except
// requests whose name is "hold": those it hands to the returned channel
// unanswered. It stops when ch closes, and returns the consumer tag.
func rawServer(t testing.TB, ch *amqp.Channel, queue string) (tag string, held <-chan amqp.Delivery) {
	t.Helper()
	tag = "raw-" + queue
	deliveries, err := ch.Consume(queue, tag, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("consuming %s: %v", queue, err)
	}
	holds := make(chan amqp.Delivery, 16)
	go func() {
		for d := range deliveries {
			if strings.Contains(string(d.Body), "hold") {
				holds <- d
				continue
			}
			_ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{CorrelationId: d.CorrelationId, ContentType: d.ContentType})
		}
	}()
	return tag, holds
}

// TestNoConsumerFailsFast: a durable queue that outlives its servers
// exists but has no consumer. The call must fail at once with
// Unavailable, marked NotSent, and leave nothing in the queue; with
// mandatory alone it would wait there for its deadline.
func TestNoConsumerFailsFast(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	_, client := dial(t, url, queue)
	var took []time.Duration
	for range 20 {
		start := time.Now()
		_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "anyone"})
		took = append(took, time.Since(start))
		st := wantCode(t, err, codes.Unavailable)
		if !errors.Is(err, runtime.ErrNotSent) {
			t.Errorf("error %v is not marked NotSent", err)
		}
		if !strings.Contains(st.Message(), "no consumer") || !strings.Contains(st.Message(), queue) {
			t.Errorf("message %q does not say the queue has no consumer", st.Message())
		}
	}
	slices.Sort(took)
	t.Logf("time to Unavailable, queue without consumer: p50 %v, max %v", took[len(took)/2], took[len(took)-1])
	if p50 := took[len(took)/2]; p50 > 50*time.Millisecond {
		t.Errorf("p50 time to Unavailable = %v, want < 50ms", p50)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != 0 {
		t.Errorf("%d requests were published to a queue nobody consumes", q.Messages)
	}
}

// TestNoQueueFailsFast: no queue at all. The probe's 404 fails the call,
// and a later call still works once a server is there (the 404 closed the
// probe channel only).
func TestNoQueueFailsFast(t *testing.T) {
	url, queue := broker(t)
	_, client := dial(t, url, queue)
	var took []time.Duration
	for range 20 {
		start := time.Now()
		_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "anyone"})
		took = append(took, time.Since(start))
		st := wantCode(t, err, codes.Unavailable)
		if !errors.Is(err, runtime.ErrNotSent) {
			t.Errorf("error %v is not marked NotSent", err)
		}
		if !strings.Contains(st.Message(), "no queue") {
			t.Errorf("message %q does not say there is no queue", st.Message())
		}
	}
	slices.Sort(took)
	t.Logf("time to Unavailable, no queue: p50 %v, max %v", took[len(took)/2], took[len(took)-1])
	if p50 := took[len(took)/2]; p50 > 50*time.Millisecond {
		t.Errorf("p50 time to Unavailable = %v, want < 50ms", p50)
	}
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	rawServer(t, ch, queue)
	if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "now"}); err != nil {
		t.Fatalf("call once a server consumes: %v", err)
	}
}

// TestNoServerFailsFastWithoutProbe keeps the older path working: with
// the probe off, the mandatory flag's basic.return fails a call to a
// missing queue.
func TestNoServerFailsFastWithoutProbe(t *testing.T) {
	url, queue := broker(t)
	_, client := dial(t, url, queue, amqptransport.WithPresenceTTL(-1))
	_, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "anyone"})
	st := wantCode(t, err, codes.Unavailable)
	if !strings.Contains(st.Message(), "returned the request") {
		t.Errorf("message %q is not the basic.return's", st.Message())
	}
}

// TestPresenceNotCachedWhenAbsent: a server that starts consuming is seen
// by the very next call, and one that stops is seen once the TTL has
// passed.
func TestPresenceNotCachedWhenAbsent(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	const ttl = 200 * time.Millisecond
	_, client := dial(t, url, queue, amqptransport.WithPresenceTTL(ttl))
	ctx := testContext(t)
	_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "nobody yet"})
	wantCode(t, err, codes.Unavailable)
	tag, _ := rawServer(t, ch, queue)
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "now"}); err != nil {
		t.Fatalf("call right after the server started: %v", err)
	}
	if err := ch.Cancel(tag, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	_, err = client.SayHello(ctx, &helloworld.HelloRequest{Name: "gone"})
	wantCode(t, err, codes.Unavailable)
}

// TestPresenceProbesShared: 64 concurrent calls to a queue without a
// consumer all fail fast; with 64 in flight to a served queue, all
// succeed.
func TestPresenceProbesShared(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	_, client := dial(t, url, queue)
	run := func() (failed int) {
		var wg sync.WaitGroup
		var n atomic.Int64
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "x"}); err != nil {
					wantCode(t, err, codes.Unavailable)
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return int(n.Load())
	}
	if failed := run(); failed != 64 {
		t.Errorf("without a consumer, %d of 64 calls failed, want all", failed)
	}
	rawServer(t, ch, queue)
	if failed := run(); failed != 0 {
		t.Errorf("with a consumer, %d of 64 calls failed", failed)
	}
}

// correlationIDForm is the Go client's correlation_id: 128 random bits in
// unpadded base64url, a dot, and the call's number in base 36.
var correlationIDForm = regexp.MustCompile(`^[A-Za-z0-9_-]{22}\.[0-9a-z]+$`)

// TestCancelNotice: a call whose context is cancelled publishes a cancel
// notice to svcclient.cancel with the request queue as routing key and the
// request's correlation_id; one whose deadline passes does not. The test
// plays the server: it takes the request from the queue, and receives the
// notice on a queue it binds to the exchange.
func TestCancelNotice(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	requests, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As a server declares it (docs/amqp-protocol.md, "Cancellation").
	if err := ch.ExchangeDeclare("svcclient.cancel", "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	notices, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(notices.Name, queue, "svcclient.cancel", false, nil); err != nil {
		t.Fatal(err)
	}
	cancels, err := ch.Consume(notices.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, client := dial(t, url, queue)

	ctx, cancel := context.WithCancel(testContext(t))
	errc := make(chan error, 1)
	go func() {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "cancel me"})
		errc <- err
	}()
	var req amqp.Delivery
	select {
	case req = <-requests:
	case <-time.After(10 * time.Second):
		t.Fatal("no request within 10s")
	}
	if !correlationIDForm.MatchString(req.CorrelationId) {
		t.Errorf("correlation_id %q is not <22 base64url characters>.<base-36 number>", req.CorrelationId)
	}
	cancel()
	wantCode(t, <-errc, codes.Canceled)
	select {
	case n := <-cancels:
		if n.CorrelationId != req.CorrelationId || n.RoutingKey != queue || n.Type != "cancel" || len(n.Body) != 0 {
			t.Errorf("cancel notice: correlation_id %q, routing key %q, type %q, %d body bytes; want %q, %q, \"cancel\", none",
				n.CorrelationId, n.RoutingKey, n.Type, len(n.Body), req.CorrelationId, queue)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no cancel notice within 10s")
	}

	// A deadline that passes sends no notice: the server sees it itself.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	_, err = client.SayHello(dctx, &helloworld.HelloRequest{Name: "expire"})
	wantCode(t, err, codes.DeadlineExceeded)
	select {
	case n := <-cancels:
		t.Errorf("a call that reached its deadline sent a cancel notice %q", n.CorrelationId)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestCancelWithoutExchange: with no svcclient.cancel exchange (no server
// of this protocol version has run), the notice's 404 closes the cancel
// channel only: other calls are unaffected.
func TestCancelWithoutExchange(t *testing.T) {
	url := amqptest.URL(t)
	// Another vhost's exchange does not count; this one must not have it.
	if err := rawChannel(t, url).ExchangeDelete("svcclient.cancel", false, false); err != nil {
		t.Fatal(err)
	}
	queue := amqptest.Queue(t, url)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	_, held := rawServer(t, ch, queue)
	_, client := dial(t, url, queue)
	// A call in flight on the shared channel while the notices go out.
	slow, slowCancel := context.WithCancel(testContext(t))
	defer slowCancel()
	slowErr := make(chan error, 1)
	go func() {
		_, err := client.SayHello(slow, &helloworld.HelloRequest{Name: "hold"})
		slowErr <- err
	}()
	<-held
	for range 3 {
		ctx, cancel := context.WithCancel(testContext(t))
		errc := make(chan error, 1)
		go func() {
			_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "hold"})
			errc <- err
		}()
		<-held
		cancel()
		wantCode(t, <-errc, codes.Canceled)
		if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "fine"}); err != nil {
			t.Fatalf("call after a cancel notice without an exchange: %v", err)
		}
	}
	select {
	case err := <-slowErr:
		t.Fatalf("the call in flight ended: %v", err)
	default:
	}
}

// TestBlockedBrokerFailsFast: while the broker blocks publishers
// (connection.blocked), new calls fail at once with Unavailable, NotSent,
// naming the reason; after connection.unblocked they work again. The
// notification is injected (InjectBlocked) into the channel amqp091-go
// delivers the broker's to: a real resource alarm would block every user
// of the shared test broker.
func TestBlockedBrokerFailsFast(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	rawServer(t, ch, queue)
	conn, client := dial(t, url, queue)
	ctx := testContext(t)
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	if !amqptransport.InjectBlocked(conn, true, "low on memory") {
		t.Fatal("no session")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "blocked"})
		if err != nil {
			st := wantCode(t, err, codes.Unavailable)
			if st.Message() != "amqptransport: the broker is blocking publishers: low on memory" {
				t.Errorf("message %q", st.Message())
			}
			if !errors.Is(err, runtime.ErrNotSent) {
				t.Errorf("error %v is not marked NotSent", err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("took %v to fail", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("calls still succeed 5s after connection.blocked")
		}
		time.Sleep(time.Millisecond)
	}
	amqptransport.InjectBlocked(conn, false, "")
	for {
		_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "unblocked"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still fail after connection.unblocked: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRecoveryAfterBrokerClosesConnection: the broker closes the client's
// connection (rabbitmqctl close_connection) under traffic. Calls in flight
// fail with Unavailable at once, none hangs, and calls succeed again
// within a second.
func TestRecoveryAfterBrokerClosesConnection(t *testing.T) {
	url, queue := broker(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found")
	}
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	rawServer(t, ch, queue)
	name := "svcclient-test-" + queue
	_, client := dial(t, url, queue, amqptransport.WithAMQPConfig(amqp.Config{Properties: amqp.Table{"connection_name": name}}))
	tr := startTraffic(t, client, 8, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	pid := brokerConnection(t, name)
	closed := time.Now()
	if out, err := exec.Command("rabbitmqctl", "close_connection", pid, "test closes it").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl close_connection: %v: %s", err, out)
	}
	// rabbitmqctl takes a second or two to start: the outage begins
	// when the first call fails.
	lost, recovered := tr.recovery(t, closed, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	res := tr.stop()
	t.Logf("close_connection: calls ok %d, failed %d, hung %d; first success %v after the first failure",
		res.ok, res.failed, res.hung, recovered.Sub(lost).Round(time.Millisecond))
	if res.hung > 0 {
		t.Errorf("%d calls ran to their deadline", res.hung)
	}
	if d := recovered.Sub(lost); d > time.Second {
		t.Errorf("calls succeeded again %v after the connection was lost, want ≤ 1s", d)
	}
}

// brokerConnection returns the pid of the shared broker's connection
// named name, skipping the test when rabbitmqctl manages another broker.
func brokerConnection(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_connections", "pid", "client_properties").CombinedOutput()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, name) {
			return strings.SplitN(line, "\t", 2)[0]
		}
	}
	t.Skipf("the broker rabbitmqctl manages is not the one at AMQP_URL: no connection named %s", name)
	return ""
}

// traffic keeps calls going from several goroutines and records how each
// ended.
type traffic struct {
	stopc chan struct{}
	wg    sync.WaitGroup

	mu        sync.Mutex
	res       trafficResult
	successes []time.Time // when each successful call ended
	failures  []time.Time // when each failed call ended
	lastErr   error
}

type trafficResult struct {
	ok, failed, hung int
}

// startTraffic runs calls from n goroutines, each with the given deadline;
// a call that ends with DeadlineExceeded counts as hung: every call here
// should end by a reply or a prompt status.
func startTraffic(t *testing.T, client helloworldsvc.GreeterClient, n int, deadline time.Duration) *traffic {
	tr := &traffic{stopc: make(chan struct{})}
	for range n {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				select {
				case <-tr.stopc:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "traffic"})
				cancel()
				tr.mu.Lock()
				switch {
				case err == nil:
					tr.res.ok++
					tr.successes = append(tr.successes, time.Now())
				case status.Code(err) == codes.DeadlineExceeded:
					tr.res.hung++
				default:
					tr.res.failed++
					tr.failures = append(tr.failures, time.Now())
					tr.lastErr = err
				}
				tr.mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // no busy loop while down
				}
			}
		}()
	}
	t.Cleanup(func() { tr.stop() })
	return tr
}

// recovery waits for the first call that fails after since (the outage
// seen) and the first that succeeds after that, and returns when each
// ended.
func (tr *traffic) recovery(t *testing.T, since time.Time, limit time.Duration) (lost, recovered time.Time) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		tr.mu.Lock()
		// The outage shows as the first failure after since; recovery is
		// the first success after that failure.
		i := slices.IndexFunc(tr.failures, func(f time.Time) bool { return f.After(since) })
		if i >= 0 {
			j := slices.IndexFunc(tr.successes, func(s time.Time) bool { return s.After(tr.failures[i]) })
			if j >= 0 {
				lost, recovered := tr.failures[i], tr.successes[j]
				tr.mu.Unlock()
				return lost, recovered
			}
		}
		tr.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	t.Fatalf("no failure then success within %v: %+v, last error %v", limit, tr.res, tr.lastErr)
	return time.Time{}, time.Time{}
}

// stop ends the traffic and returns its counts.
func (tr *traffic) stop() trafficResult {
	select {
	case <-tr.stopc:
	default:
		close(tr.stopc)
	}
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.res
}

// TestDialTriesNodesInOrder: Dial moves past a node that refuses the
// connection to the next one, and refuses a malformed node URL at once.
func TestDialTriesNodesInOrder(t *testing.T) {
	url, queue := broker(t)
	ch := rawChannel(t, url)
	declareDurable(t, ch, queue)
	rawServer(t, ch, queue)
	down := closedPortURL(t)
	_, client := dial(t, down, queue, amqptransport.WithNodes(url))
	if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "second node"}); err != nil {
		t.Fatalf("call through the second node: %v", err)
	}
	if _, err := amqptransport.Dial(url, amqptransport.WithNodes("http://not-amqp")); err == nil || !strings.Contains(err.Error(), "node 1") {
		t.Errorf("Dial with a malformed node URL: %v, want an error naming node 1", err)
	}
	if _, err := amqptransport.Dial(down, amqptransport.WithNodes(down)); err == nil {
		t.Error("Dial succeeded with no node up")
	}
}

// closedPortURL returns an AMQP URL of a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "amqp://guest:guest@" + addr + "/"
}
