package amqptransport_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// faultGreeter is the service of the fault tests. Each request's name is
// unique to its call; the greeter counts the executions of each, and the
// ones that were flagged as redeliveries.
type faultGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
	id      string
	delay   time.Duration // how long a call works (less if its context ends)
	ignore  bool          // work for delay even if the context ends
	onCrash func()        // what "crash" does
	started chan string   // receives each call's name as it starts, if not nil
	gate    chan struct{} // if not nil, first runs wait for it to close (or their context)
	mu      sync.Mutex
	runs    map[string]int // executions by request name
	redeliv map[string]int // executions flagged by Redelivered
	counts  map[string]int // the highest delivery count seen
	served  atomic.Int64   // replies returned
}

func newFaultGreeter(id string, delay time.Duration) *faultGreeter {
	return &faultGreeter{id: id, delay: delay, runs: map[string]int{}, redeliv: map[string]int{}, counts: map[string]int{}}
}

func (g *faultGreeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	redelivered, count := amqptransport.Redelivered(ctx)
	g.mu.Lock()
	g.runs[in.GetName()]++
	if redelivered {
		g.redeliv[in.GetName()]++
	}
	if count > g.counts[in.GetName()] {
		g.counts[in.GetName()] = count
	}
	g.mu.Unlock()
	if g.started != nil {
		g.started <- in.GetName()
	}
	if in.GetName() == "crash" {
		g.onCrash()
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if g.ignore {
		time.Sleep(g.delay)
	} else {
		select {
		case <-time.After(g.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	g.served.Add(1)
	return &helloworld.HelloReply{Message: g.id}, nil
}

// executions returns the number of requests run, the fewest and most runs
// of one request, and how many runs were flagged as redeliveries.
func (g *faultGreeter) executions() (requests, minRuns, maxRuns, flagged int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	minRuns = 1 << 30
	for name, n := range g.runs {
		requests++
		minRuns, maxRuns = min(minRuns, n), max(maxRuns, n)
		flagged += g.redeliv[name]
	}
	return requests, minRuns, maxRuns, flagged
}

// serveFaults starts a server for g on queue under name (its
// connection_name), closed when the test ends.
func serveFaults(t *testing.T, url, queue, name string, g helloworldsvc.GreeterServer, opts ...amqptransport.ServerOption) *amqptransport.Server {
	t.Helper()
	opts = append([]amqptransport.ServerOption{
		amqptransport.WithAMQPConfig(amqp.Config{Properties: amqp.Table{"connection_name": name}}),
	}, opts...)
	return serve(t, url, queue, g, opts...)
}

// callResult is how one call of a fault test ended.
type callResult struct {
	name    string
	reply   string
	err     error
	elapsed time.Duration
}

// callMany makes n calls with deadline each, named prefix-i, and returns a
// channel that receives their results.
func callMany(client helloworldsvc.GreeterClient, n int, prefix string, deadline time.Duration) <-chan callResult {
	out := make(chan callResult, n)
	for i := range n {
		go func() {
			name := fmt.Sprintf("%s-%d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: name})
			out <- callResult{name: name, reply: reply.GetMessage(), err: err, elapsed: time.Since(start)}
		}()
	}
	return out
}

// tally collects n results: the replies by server, the calls lost (ended
// with DeadlineExceeded although a server was alive), other failures, and
// when the last one ended.
type tally struct {
	byServer map[string]int
	lost     int
	failed   []error
	slowest  time.Duration
}

func collect(t *testing.T, results <-chan callResult, n int, bound time.Duration) tally {
	t.Helper()
	tl := tally{byServer: map[string]int{}}
	timeout := time.After(bound)
	for range n {
		select {
		case r := <-results:
			tl.slowest = max(tl.slowest, r.elapsed)
			switch {
			case r.err == nil:
				tl.byServer[r.reply]++
			case status.Code(r.err) == codes.DeadlineExceeded:
				tl.lost++
			default:
				tl.failed = append(tl.failed, fmt.Errorf("%s: %w", r.name, r.err))
			}
		case <-timeout:
			t.Fatalf("calls hung past their deadline: %d results still missing after %v", n-len(tl.byServer), bound)
		}
	}
	return tl
}

// waitRuns waits until g has started n executions.
func waitRuns(t *testing.T, g *faultGreeter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		got := 0
		for _, r := range g.runs {
			got += r
		}
		g.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d executions started within 10s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectionPid returns the broker's pid of the connection whose
// connection_name is name, for closeConnection. It skips the test without
// rabbitmqctl.
func connectionPid(t *testing.T, url, name string) string {
	t.Helper()
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found: cannot have the broker close a connection")
	}
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The JSON formatter prints pids in a form close_connection does not
	// take; the plain one prints "pid<TAB>[{"connection_name","name"},...]".
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_connections", "-p", uri.Vhost, "pid", "client_properties").Output()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v", err)
	}
	want := fmt.Sprintf(`{"connection_name",%q}`, name)
	for _, line := range strings.Split(string(out), "\n") {
		if pid, props, ok := strings.Cut(line, "\t"); ok && strings.Contains(props, want) {
			return pid
		}
	}
	t.Skipf("the broker rabbitmqctl manages has no connection named %q in vhost %q (is it the one at AMQP_URL?)", name, uri.Vhost)
	return ""
}

// closeConnection has the broker close the connection pid (rabbitmqctl
// close_connection), as an operator or a node shutdown does.
func closeConnection(t *testing.T, pid string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "rabbitmqctl", "close_connection", pid, "test closes it").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl close_connection: %v: %s", err, out)
	}
}

// TestServerConnectionDroppedLosesNothing is the first fault: 64
// calls in flight (100 ms handlers, 5 s deadlines) when the broker closes
// the server's consuming connection. Every request is delivered again
// once the server has reconnected and answered: none is lost, and the
// handlers see the second run as a redelivery.
//
// rabbitmqctl takes about a second to start, longer than a handler: the
// first runs wait for the close (or their context, which the lost
// connection ends) so that all 64 are in flight when it happens.
func TestServerConnectionDroppedLosesNothing(t *testing.T) {
	url, queue := broker(t)
	name := "svcclient-test-drop-" + queue
	g := newFaultGreeter("s1", 100*time.Millisecond)
	g.gate = make(chan struct{})
	serveFaults(t, url, queue, name, g)
	_, client := dial(t, url, queue)
	pid := connectionPid(t, url, name)

	const calls = 64
	results := callMany(client, calls, "drop", 5*time.Second)
	waitRuns(t, g, calls)
	closeConnection(t, pid)
	cut := time.Now()
	close(g.gate)
	tl := collect(t, results, calls, 10*time.Second)
	recovered := time.Since(cut)
	requests, minRuns, maxRuns, flagged := g.executions()
	t.Logf("connection dropped with %d calls in flight: lost %d, failed %d, answered %v; %d requests, executions per request %d..%d, %d runs flagged redelivered; all answered %v after the close",
		calls, tl.lost, len(tl.failed), tl.byServer, requests, minRuns, maxRuns, flagged, recovered.Round(time.Millisecond))
	if tl.lost != 0 || len(tl.failed) != 0 {
		t.Errorf("lost %d calls, failed %v; want none", tl.lost, tl.failed)
	}
	if requests != calls || minRuns < 1 {
		t.Errorf("%d requests ran, fewest runs %d; want %d requests, each at least once", requests, minRuns, calls)
	}
	if maxRuns > 1 && flagged == 0 {
		t.Errorf("requests ran up to %d times, none flagged as a redelivery", maxRuns)
	}
}

// TestServerKilledAnotherServerAnswers kills a server (both its
// connections closed abruptly, and it never comes back) holding 32 calls,
// while a second server consumes the same queue: the broker delivers the
// requests to the second, and no call is lost.
func TestServerKilledAnotherServerAnswers(t *testing.T) {
	url, queue := broker(t)
	proxy := amqptest.NewProxy(t, url)
	a := newFaultGreeter("a", 100*time.Millisecond)
	a.ignore = true // a killed process's handlers answer nobody
	serve(t, proxy.URL(), queue, a)
	_, client := dial(t, url, queue)

	const calls = 32
	results := callMany(client, calls, "kill", 5*time.Second)
	waitRuns(t, a, calls)
	b := newFaultGreeter("b", 100*time.Millisecond)
	serve(t, url, queue, b)
	killed := time.Now()
	proxy.Close() // both connections gone, and no reconnect can succeed
	tl := collect(t, results, calls, 10*time.Second)
	_, _, _, flaggedB := b.executions()
	t.Logf("server killed with %d calls: lost %d, failed %d, answered %v (%d flagged redelivered on b); all answered %v after the kill",
		calls, tl.lost, len(tl.failed), tl.byServer, flaggedB, time.Since(killed).Round(time.Millisecond))
	if tl.lost != 0 || len(tl.failed) != 0 {
		t.Errorf("lost %d calls, failed %v; want none", tl.lost, tl.failed)
	}
	if tl.byServer["a"] != 0 {
		t.Errorf("%d calls answered by the killed server", tl.byServer["a"])
	}
	if flaggedB != calls {
		t.Errorf("%d runs on b flagged redelivered, want %d", flaggedB, calls)
	}
}

// TestShutdownDeadlineRedelivers shuts a server down with a deadline
// shorter than its handlers: what it cannot finish is left unacked and
// answered by the other server of the queue; no call fails.
func TestShutdownDeadlineRedelivers(t *testing.T) {
	url, queue := broker(t)
	a := newFaultGreeter("a", 300*time.Millisecond)
	srvA := serve(t, url, queue, a)
	_, client := dial(t, url, queue)

	const calls = 20
	results := callMany(client, calls, "shutdown", 5*time.Second)
	waitRuns(t, a, calls)
	b := newFaultGreeter("b", 300*time.Millisecond)
	serve(t, url, queue, b)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := srvA.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the context's deadline (handlers take 300 ms)", err)
	}
	tl := collect(t, results, calls, 10*time.Second)
	t.Logf("Shutdown(100ms) with %d calls of 300 ms in flight: lost %d, failed %d, answered %v, slowest %v",
		calls, tl.lost, len(tl.failed), tl.byServer, tl.slowest.Round(time.Millisecond))
	if tl.lost != 0 || len(tl.failed) != 0 {
		t.Errorf("lost %d calls, failed %v; want none", tl.lost, tl.failed)
	}
	if tl.byServer["a"]+tl.byServer["b"] != calls {
		t.Errorf("answered %v, want %d in all", tl.byServer, calls)
	}
}

// TestShutdownFinishesInFlight: with time enough, Shutdown lets the
// handlers finish and answers their calls itself.
func TestShutdownFinishesInFlight(t *testing.T) {
	url, queue := broker(t)
	a := newFaultGreeter("a", 300*time.Millisecond)
	srvA := serve(t, url, queue, a)
	_, client := dial(t, url, queue)
	const calls = 20
	results := callMany(client, calls, "drain", 5*time.Second)
	waitRuns(t, a, calls)
	if err := srvA.Shutdown(testContext(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	tl := collect(t, results, calls, 10*time.Second)
	if tl.byServer["a"] != calls {
		t.Errorf("answered %v, lost %d, failed %v; want all %d by a", tl.byServer, tl.lost, tl.failed, calls)
	}
}

// TestReplyConnectionDroppedRepublishes closes the server's publishing
// connection while handlers run: their replies are published once it is
// back, and the requests run once each.
func TestReplyConnectionDroppedRepublishes(t *testing.T) {
	url, queue := broker(t)
	name := "svcclient-test-replies-" + queue
	g := newFaultGreeter("s1", 0)
	g.gate = make(chan struct{})
	serveFaults(t, url, queue, name, g)
	_, client := dial(t, url, queue)
	pid := connectionPid(t, url, name+" (replies)")
	const calls = 16
	results := callMany(client, calls, "republish", 5*time.Second)
	waitRuns(t, g, calls)
	closeConnection(t, pid)
	close(g.gate)
	tl := collect(t, results, calls, 10*time.Second)
	_, _, maxRuns, _ := g.executions()
	t.Logf("reply connection closed under %d calls: answered %v, lost %d, failed %d, most runs of one request %d", calls, tl.byServer, tl.lost, len(tl.failed), maxRuns)
	if tl.byServer["s1"] != calls {
		t.Errorf("answered %v, lost %d, failed %v; want all %d", tl.byServer, tl.lost, tl.failed, calls)
	}
	if maxRuns != 1 {
		t.Errorf("a request ran %d times; its reply should have been published again, not the request run again", maxRuns)
	}
}

// TestPoisonRequestAborted serves a quorum queue with a request that
// crashes its server every time (its connections cut): after the delivery
// limit the server answers ABORTED instead of running it again, and the
// caller fails at once rather than at its deadline.
func TestPoisonRequestAborted(t *testing.T) {
	url, queue := broker(t)
	proxy := amqptest.NewProxy(t, url)
	g := newFaultGreeter("s1", 0)
	g.ignore = true
	g.onCrash = func() { proxy.Cut() }
	const limit = 3
	serve(t, proxy.URL(), queue, g, amqptransport.WithQuorumQueue(), amqptransport.WithDeliveryLimit(limit),
		amqptransport.WithReconnectBackoff(fastBackoff))
	_, client := dial(t, url, queue)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "crash"})
	st := wantCode(t, err, codes.Aborted)
	g.mu.Lock()
	runs, count := g.runs["crash"], g.counts["crash"]
	g.mu.Unlock()
	t.Logf("poison request: %v after %v, %d executions, highest x-delivery-count seen %d", st.Message(), time.Since(start).Round(time.Millisecond), runs, count)
	if runs != limit {
		t.Errorf("the handler ran %d times, want %d (the delivery limit)", runs, limit)
	}
	if !strings.Contains(st.Message(), fmt.Sprintf("delivered %d times", limit)) {
		t.Errorf("message %q does not say how often it was delivered", st.Message())
	}
}

// TestCancelMessageCancelsHandler publishes a cancel message by hand, as
// a client does for a cancelled call (docs/amqp-protocol.md section 8):
// the handler's context ends promptly, and it is the client's cancel.
func TestCancelMessageCancelsHandler(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ch.Consume(amqptransport.DirectReplyTo, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := mustMarshal(t, &helloworld.HelloRequest{Name: "block"})
	const id = "test-client-0123456789abcdef-1"
	if err := ch.Publish("", queue, false, false, amqp.Publishing{
		CorrelationId: id, ReplyTo: amqptransport.DirectReplyTo, Type: "SayHello", Body: body,
	}); err != nil {
		t.Fatal(err)
	}
	handlerCtx := waitStarted(t, g)
	sent := time.Now()
	if err := ch.Publish("svcclient.cancel", queue, false, false, amqp.Publishing{CorrelationId: id, Type: "cancel"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handlerCtx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled within 5s of the cancel message")
	}
	took := time.Since(sent)
	select {
	case d := <-replies:
		t.Logf("cancel message to handler context done: %v; reply rpc-status %v %q", took.Round(time.Microsecond), d.Headers["rpc-status"], d.Headers["rpc-message"])
		if d.CorrelationId != id || fmt.Sprint(d.Headers["rpc-status"]) != fmt.Sprint(int(codes.Canceled)) {
			t.Errorf("reply %q with status %v, want %q CANCELLED", d.CorrelationId, d.Headers["rpc-status"], id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply within 5s")
	}
	if took > 250*time.Millisecond {
		t.Errorf("the handler's context ended %v after the cancel message, want well under 250ms", took)
	}
}

// TestDeadlineHeaderAnyCase sends rpc-deadline as RPC-Deadline, already
// past: the server reads it (DEADLINE_EXCEEDED without running the method)
// rather than take it for metadata.
func TestDeadlineHeaderAnyCase(t *testing.T) {
	url, queue := broker(t)
	g := newGreeter("s1")
	serve(t, url, queue, g)
	d := rawCall(t, url, queue, amqp.Publishing{
		Type: "SayHello", Body: mustMarshal(t, &helloworld.HelloRequest{Name: "x"}),
		Headers: amqp.Table{"RPC-Deadline": time.Now().Add(-time.Second).UnixMilli()},
	})
	if got := fmt.Sprint(d.Headers["rpc-status"]); got != fmt.Sprint(int(codes.DeadlineExceeded)) {
		t.Errorf("rpc-status %s (%q), want DEADLINE_EXCEEDED", got, d.Headers["rpc-message"])
	}
	if g.calls.Load() != 0 {
		t.Errorf("the method ran %d times past the deadline", g.calls.Load())
	}
}

// rawCall publishes pub to queue with Direct Reply-to and returns the reply.
func rawCall(t *testing.T, url, queue string, pub amqp.Publishing) amqp.Delivery {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ch.Consume(amqptransport.DirectReplyTo, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub.ReplyTo = amqptransport.DirectReplyTo
	pub.CorrelationId = "raw-1"
	if err := ch.Publish("", queue, false, false, pub); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-replies:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no reply within 10s")
		return amqp.Delivery{}
	}
}

// TestRequestQueueDeclaration checks the declaration the protocol
// document gives (section 1), for classic and quorum queues: another
// implementation declaring the same arguments is accepted, and the
// declaration of an older svcclient (auto-delete) is refused.
func TestRequestQueueDeclaration(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []amqptransport.ServerOption
		args amqp.Table
	}{
		{"classic", nil, amqp.Table{"x-expires": int32(86400000)}},
		{"quorum", []amqptransport.ServerOption{amqptransport.WithQuorumQueue()},
			amqp.Table{"x-expires": int32(86400000), "x-queue-type": "quorum", "x-delivery-limit": int32(5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, queue := broker(t)
			serve(t, url, queue, newGreeter("s1"), tc.opts...)
			declare := func(autoDelete bool, args amqp.Table) error {
				conn, err := amqp.Dial(url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ch, err := conn.Channel()
				if err != nil {
					t.Fatal(err)
				}
				_, err = ch.QueueDeclare(queue, true, autoDelete, false, false, args)
				return err
			}
			if err := declare(false, tc.args); err != nil {
				t.Errorf("declaring the queue as section 1 says: %v", err)
			}
			if err := declare(true, nil); err == nil {
				t.Error("an auto-delete declaration was accepted")
			}
		})
	}
}

// TestStartOnOldQueueExplains starts a server on a queue an older svcclient
// declared (auto-delete): Start fails with the broker's reason and says how
// to migrate.
func TestStartOnOldQueueExplains(t *testing.T) {
	url, queue := broker(t)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// A consumer keeps the auto-delete queue alive during the test.
	if _, err := ch.Consume(queue, "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	srv := amqptransport.NewServer(amqptransport.WithLogger(quietLogger))
	srv.Register(helloworldsvc.NewGreeterService(newGreeter("s1")), amqptransport.WithQueue(queue))
	err = srv.Start(url)
	if err == nil {
		srv.Close()
		t.Fatal("Start succeeded on an auto-delete queue")
	}
	t.Logf("Start: %v", err)
	for _, want := range []string{"406", "auto_delete", "delete_queue " + queue} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerNodes gives a server two addresses of the broker, as the nodes
// of a cluster, and takes the first away: the server starts on the first,
// and when it is gone reconnects to the second, so calls keep being
// answered.
func TestServerNodes(t *testing.T) {
	url, queue := broker(t)
	first, second := amqptest.NewProxy(t, url), amqptest.NewProxy(t, url)
	g := newFaultGreeter("s1", 0)
	serve(t, first.URL(), queue, g, amqptransport.WithNodes(second.URL()))
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	if _, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	first.Close() // the node is down: its connections cut, no new ones
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := client.SayHello(callCtx, &helloworld.HelloRequest{Name: "after"}); err != nil {
		t.Fatalf("after the first node went down: %v", err)
	}
	t.Logf("answered through the second node %v after the first went down", time.Since(down).Round(time.Millisecond))
}

// TestServerStartsOnAnotherNode starts a server whose first address
// answers nothing: it starts on the next node.
func TestServerStartsOnAnotherNode(t *testing.T) {
	url, queue := broker(t)
	dead := amqptest.NewProxy(t, url)
	deadURL := dead.URL()
	dead.Close()
	serve(t, deadURL, queue, newFaultGreeter("s1", 0), amqptransport.WithNodes(url))
	_, client := dial(t, url, queue)
	if _, err := client.SayHello(testContext(t), &helloworld.HelloRequest{Name: "x"}); err != nil {
		t.Fatal(err)
	}
}
