package amqptransport_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// TestClientClusterFailover runs a client against a real 3-node cluster,
// connected to node 0 with the others given by WithNodes, and a server on
// node 2. Under traffic, node 0 is stopped gracefully, then node 1 (where
// the client moved) is killed. Each time the calls in flight must end at
// once with a status (none hangs to its deadline) and calls succeed again
// within a second on the next node.
func TestClientClusterFailover(t *testing.T) {
	cluster := amqptest.StartCluster(t, 3)
	urls := cluster.URLs()
	const queue = "svcclient-test.cluster-failover"
	serve(t, urls[2], queue, newGreeter("node2"))
	conn, err := amqptransport.Dial(urls[0], amqptransport.WithNodes(urls[1], urls[2]), toQueue(queue))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	tr := startTraffic(t, helloworldsvc.NewGreeterClient(conn), 8, 5*time.Second)
	// A client that knows node 0 only: it must wait for node 0, and work
	// again within a second of its return.
	single, err := amqptransport.Dial(urls[0], toQueue(queue))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { single.Close() })
	singleTr := startTraffic(t, helloworldsvc.NewGreeterClient(single), 2, 5*time.Second)
	time.Sleep(300 * time.Millisecond)

	failover := func(what string, stop func()) {
		t.Helper()
		before := time.Now()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			stop()
		}()
		lost, recovered := tr.recovery(t, before, 30*time.Second)
		<-stopped
		time.Sleep(300 * time.Millisecond)
		tr.mu.Lock()
		res := tr.res
		tr.mu.Unlock()
		t.Logf("%s: first failure %v after the stop began, first success %v after it; so far ok %d, failed %d, hung %d",
			what, lost.Sub(before).Round(time.Millisecond), recovered.Sub(lost).Round(time.Millisecond), res.ok, res.failed, res.hung)
		if d := recovered.Sub(lost); d > time.Second {
			t.Errorf("%s: calls succeeded again %v after the connection was lost, want ≤ 1s", what, d)
		}
	}

	stoppedAt := time.Now()
	failover("node 0 stopped", func() { cluster.StopNode(0) })
	time.Sleep(2 * time.Second) // an outage long enough for the backoff to reach its cap
	portOpen := make(chan time.Time, 1)
	go func() { portOpen <- waitPort(urls[0], 60*time.Second) }()
	cluster.StartNode(0) // returns once node 0 has rejoined
	back := <-portOpen
	_, recovered := singleTr.recovery(t, stoppedAt, 30*time.Second)
	t.Logf("node 0 back: the client of node 0 alone succeeded again %v after node 0's AMQP port opened",
		recovered.Sub(back).Round(time.Millisecond))
	if d := recovered.Sub(back); d > time.Second {
		t.Errorf("the client of node 0 alone succeeded again %v after node 0 was back, want ≤ 1s", d)
	}

	failover("node 1 killed", func() { cluster.KillNode(1) })
	for what, res := range map[string]trafficResult{"three nodes": tr.stop(), "node 0 only": singleTr.stop()} {
		t.Logf("%s client: ok %d, failed %d, hung %d", what, res.ok, res.failed, res.hung)
		if res.hung > 0 {
			t.Errorf("%s client: %d calls ran to their deadline", what, res.hung)
		}
	}
}

// waitPort returns when the host:port of the AMQP URL u first accepts a
// TCP connection (a RabbitMQ node opens its listener last in its boot),
// polling every 10 ms for at most limit.
func waitPort(u string, limit time.Duration) time.Time {
	uri, err := amqp.ParseURI(u)
	if err != nil {
		return time.Time{}
	}
	addr := net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return time.Now()
		}
	}
	return time.Time{}
}
