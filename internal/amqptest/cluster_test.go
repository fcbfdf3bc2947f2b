package amqptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestClusterQuorumQueueSurvivesNodeStop checks the harness on what the
// AMQP fault suite needs from it: a quorum queue declared on a 3-node
// cluster keeps every confirmed message when its leader node stops or
// crashes, another node serves them, and the node rejoins when restarted.
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
	checkAllRunning(t, c)

	// The crash case: the new leader's VM is killed, so the queue's other
	// members find out from the lost connection, not from a shutdown.
	publishConfirmed(t, urls[other], queue, total)
	leader = c.QueueLeader(queue)
	other = (leader + 1) % 3
	killed := time.Now()
	c.KillNode(leader)
	t.Logf("KillNode(%d): %v", leader, time.Since(killed).Round(time.Millisecond))
	failover = time.Now()
	got = consumeAll(t, urls[other], queue, total)
	t.Logf("consumed %d/%d from node %d; first message %v after the leader was killed",
		len(got.bodies), total, other, got.first.Sub(failover).Round(time.Millisecond))
	for i := range total {
		if !got.bodies[strconv.Itoa(i)] {
			t.Errorf("message %d lost after the kill", i)
		}
	}
	restarted = time.Now()
	c.StartNode(leader)
	t.Logf("StartNode(%d) after kill: %v", leader, time.Since(restarted).Round(time.Millisecond))
	checkAllRunning(t, c)
}

// checkAllRunning checks that every node of c sees all three running.
func checkAllRunning(t *testing.T, c *Cluster) {
	t.Helper()
	want := []string{c.NodeName(0), c.NodeName(1), c.NodeName(2)}
	slices.Sort(want)
	for i := range 3 {
		running, err := c.RunningNodes(i)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(running)
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
// ones or 30 s have passed. It retries while the queue has no leader yet
// (the election after the old leader went), opening a new channel, or a new
// connection, after an error closed the old one.
func consumeAll(t *testing.T, url, queue string, total int) consumed {
	t.Helper()
	got := consumed{bodies: make(map[string]bool)}
	deadline := time.Now().Add(30 * time.Second)
	var conn *amqp.Connection
	var ch *amqp.Channel
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var errs []error
	retry := func(err error) {
		t.Logf("consuming: %v", err)
		errs = append(errs, err)
		time.Sleep(50 * time.Millisecond)
	}
	for len(got.bodies) < total && time.Now().Before(deadline) {
		var err error
		if conn == nil || conn.IsClosed() {
			ch = nil
			if conn, err = amqp.Dial(url); err != nil {
				conn = nil
				retry(fmt.Errorf("dial: %w", err))
				continue
			}
		}
		if ch == nil || ch.IsClosed() {
			if ch, err = conn.Channel(); err != nil {
				ch = nil
				retry(fmt.Errorf("channel: %w", err))
				continue
			}
		}
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			retry(fmt.Errorf("get: %w", err))
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
			retry(fmt.Errorf("ack: %w", err))
		}
	}
	if len(got.bodies) < total {
		t.Errorf("got %d of %d messages in 30 s; errors: %v", len(got.bodies), total, errs)
	}
	return got
}

// TestFreePortsAvoidsCLIRange checks that the ports a cluster gets are
// distinct and outside 35672-35682, where rabbitmqctl of a broker on the
// default ports listens while it runs.
func TestFreePortsAvoidsCLIRange(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[int]bool)
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d returned twice", p)
		}
		seen[p] = true
		if p >= 35672 && p <= 35682 {
			t.Errorf("port %d is in rabbitmqctl's range", p)
		}
	}
}

// TestJSONPart checks that a warning rabbitmqctl prints before its JSON is
// dropped.
func TestJSONPart(t *testing.T) {
	for in, want := range map[string]string{
		`{"running_nodes":[]}`:                      `{"running_nodes":[]}`,
		"Warning: x\n[{\"name\":\"q\"}]":            `[{"name":"q"}]`,
		"Cluster status of node a@b ...\n{\"a\":1}": `{"a":1}`,
	} {
		if got := jsonPart(in); got != want {
			t.Errorf("jsonPart(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFindRabbitMQFromEnv checks that SVCCLIENT_RABBITMQ_BIN names the
// scripts' directory when it holds both scripts, and is passed over when
// it does not.
func TestFindRabbitMQFromEnv(t *testing.T) {
	if _, err := exec.LookPath("erl"); err != nil {
		t.Skip("erl is not on PATH")
	}
	dir := t.TempDir()
	for _, name := range []string{"rabbitmq-server", "rabbitmqctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(RabbitMQBinEnv, dir)
	if got, err := findRabbitMQ(); err != nil || got != dir {
		t.Errorf("findRabbitMQ() = %q, %v; want %q", got, err, dir)
	}
	if err := os.Remove(filepath.Join(dir, "rabbitmqctl")); err != nil {
		t.Fatal(err)
	}
	if got, err := findRabbitMQ(); err == nil && got == dir {
		t.Errorf("findRabbitMQ() = %q with rabbitmqctl missing there", got)
	}
}
