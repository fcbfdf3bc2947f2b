package amqptransport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// TestServerChannelsBounded serves several services with many workers,
// all sending replies large enough to be published apart from the small
// ones, and counts the channels of the server's two connections
// (consuming, and publishing replies) on the broker: they stay within the
// bound the Server's documentation gives, whatever the
// number of services and workers.
func TestServerChannelsBounded(t *testing.T) {
	url := amqptest.URL(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found: cannot count the server connection's channels")
	}
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	const services, workers = 6, 16
	name := fmt.Sprintf("svcclient-test-channels-%d-%d", os.Getpid(), time.Now().UnixNano())
	srv := amqptransport.NewServer(
		amqptransport.WithLogger(quietLogger),
		amqptransport.WithConcurrency(workers),
		amqptransport.WithAMQPConfig(amqp.Config{Properties: amqp.Table{"connection_name": name}}),
	)
	var clients []helloworldsvc.GreeterClient
	for i := 0; i < services; i++ {
		queue := amqptest.Queue(t, url)
		g := newGreeter(fmt.Sprint("s", i))
		g.bigReply = amqptransport.DefaultIsolationThreshold + 1<<10
		srv.Register(helloworldsvc.NewGreeterService(g), amqptransport.WithQueue(queue))
		_, client := dial(t, url, queue)
		clients = append(clients, client)
	}
	if err := srv.Start(url); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	idle := serverChannels(t, uri.Vhost, name) + serverChannels(t, uri.Vhost, name+" (replies)")
	if idle > amqptransport.ServerChannelLimit {
		t.Errorf("%d channels before any call, want at most %d", idle, amqptransport.ServerChannelLimit)
	}
	// Rounds of as many large calls as there are workers, so that most
	// workers of every service publish a large reply.
	ctx := testContext(t)
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, services*workers)
		for _, client := range clients {
			for i := 0; i < workers; i++ {
				wg.Add(1)
				go func(client helloworldsvc.GreeterClient) {
					defer wg.Done()
					reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "big"})
					if err == nil && len(reply.GetMessage()) <= amqptransport.DefaultIsolationThreshold {
						err = fmt.Errorf("reply of %d bytes", len(reply.GetMessage()))
					}
					errs <- err
				}(client)
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("large call: %v", err)
			}
		}
	}
	busy := serverChannels(t, uri.Vhost, name) + serverChannels(t, uri.Vhost, name+" (replies)")
	t.Logf("server connections: %d channels idle, %d after %d large replies (%d services × %d workers)", idle, busy, 3*services*workers, services, workers)
	if busy > amqptransport.ServerChannelLimit {
		t.Errorf("%d channels after large replies, want at most %d", busy, amqptransport.ServerChannelLimit)
	}
}

// serverChannels asks the broker how many channels the connection named
// name has open.
func serverChannels(t *testing.T, vhost, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "list_connections", "-q", "-p", vhost,
		"--formatter", "json", "client_properties", "channels").Output()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v", err)
	}
	var conns []struct {
		ClientProperties [][]any `json:"client_properties"`
		Channels         int     `json:"channels"`
	}
	if err := json.Unmarshal(out, &conns); err != nil {
		t.Fatalf("reading rabbitmqctl's output %q: %v", out, err)
	}
	for _, c := range conns {
		for _, p := range c.ClientProperties {
			if len(p) == 3 && p[0] == "connection_name" && p[2] == name {
				return c.Channels
			}
		}
	}
	t.Fatalf("no connection named %q in %s", name, out)
	return 0
}
