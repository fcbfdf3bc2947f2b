package amqptest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestClusterQuorumQueueSurvivesNodeStop checks the harness on what the
// AMQP fault suite needs from it: a quorum queue declared on a 3-node
// cluster keeps every confirmed message when its leader node stops, another
// node serves them, and the stopped node rejoins.
func TestClusterQuorumQueueSurvivesNodeStop(t *testing.T) {
	start := time.Now()
	c := StartCluster(t, 3)
	t.Logf("StartCluster(3): %v", time.Since(start).Round(time.Millisecond))
	urls := c.URLs()

	const queue, total = "svcclient-cluster-test", 100
	publishConfirmed(t, urls[0], queue, total)

	leader := c.QueueLeader(queue)
	other := (leader + 1) % 3
	t.Logf("leader of %s: node %d (%s)", queue, leader, c.NodeName(leader))

	stopped := time.Now()
	c.StopNode(leader)
	t.Logf("StopNode(%d): %v", leader, time.Since(stopped).Round(time.Millisecond))

	// Failover: from the leader's exit until another node has a leader for
	// the queue and hands out its first message.
	failover := time.Now()
	got := consumeAll(t, urls[other], queue, total)
	t.Logf("consumed %d/%d from node %d; first message %v after the leader stopped",
		len(got.bodies), total, other, got.first.Sub(failover).Round(time.Millisecond))
	for i := range total {
		if !got.bodies[strconv.Itoa(i)] {
			t.Errorf("message %d lost", i)
		}
	}
	if newLeader := c.QueueLeader(queue); newLeader == leader {
		t.Errorf("queue still led by stopped node %d", leader)
	}

	restarted := time.Now()
	c.StartNode(leader)
	t.Logf("StartNode(%d): %v", leader, time.Since(restarted).Round(time.Millisecond))
	for i := range 3 {
		running, err := c.RunningNodes(i)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(running)
		want := []string{c.NodeName(0), c.NodeName(1), c.NodeName(2)}
		slices.Sort(want)
		if !slices.Equal(running, want) {
			t.Errorf("node %d sees running %v, want %v", i, running, want)
		}
	}
}

// publishConfirmed declares queue as a quorum queue at url and publishes
// total persistent messages "0".."total-1", each confirmed by the broker.
func publishConfirmed(t *testing.T, url, queue string, total int) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatalf("declare quorum queue: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	confirms := make([]*amqp.DeferredConfirmation, total)
	for i := range total {
		confirms[i], err = ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent,
			Body:         []byte(strconv.Itoa(i)),
		})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil || !ok {
			t.Fatalf("message %d not confirmed: ack=%v err=%v", i, ok, err)
		}
	}
}

type consumed struct {
	bodies map[string]bool
	first  time.Time
}

// consumeAll takes messages from queue at url until it has total distinct
// ones or 30 s have passed. It retries basic.get while the queue has no
// leader yet (the election after the old leader stopped).
func consumeAll(t *testing.T, url, queue string, total int) consumed {
	t.Helper()
	got := consumed{bodies: make(map[string]bool)}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	var ch *amqp.Channel
	var lastErr error
	for len(got.bodies) < total && time.Now().Before(deadline) {
		if ch == nil {
			if ch, err = conn.Channel(); err != nil {
				t.Fatal(err)
			}
		}
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			// A channel error closes the channel: open another.
			lastErr, ch = err, nil
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !ok {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if got.first.IsZero() {
			got.first = time.Now()
		}
		got.bodies[string(d.Body)] = true
		if err := d.Ack(false); err != nil {
			lastErr = fmt.Errorf("ack: %w", err)
		}
	}
	if len(got.bodies) < total {
		t.Errorf("got %d of %d messages in 30 s; last error: %v", len(got.bodies), total, lastErr)
	}
	return got
}
