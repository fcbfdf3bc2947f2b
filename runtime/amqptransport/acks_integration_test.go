package amqptransport_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// mixedGreeter answers at once, except names starting with "slow", which
// take 300 ms (less if their context ends). It counts executions and
// redeliveries by name.
type mixedGreeter struct {
	helloworldsvc.UnimplementedGreeterServer
	mu      sync.Mutex
	runs    map[string]int
	redeliv int
}

func (g *mixedGreeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	redelivered, _ := amqptransport.Redelivered(ctx)
	g.mu.Lock()
	g.runs[in.GetName()]++
	if redelivered {
		g.redeliv++
	}
	g.mu.Unlock()
	if strings.HasPrefix(in.GetName(), "slow") {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &helloworld.HelloReply{Message: in.GetName()}, nil
}

// TestBatchedAcksMixedWorkload checks the server's batched acks (one
// basic.ack with multiple=true for a run of confirmed replies) on a real
// broker where they are hardest to get right: fast requests finishing
// around slow ones that hold the lowest delivery tags, and cancel
// messages, auto-acked on the same channel, taking tags in between. An
// ack naming a tag twice, or covering a request still running, makes the
// broker close the channel: the session would reconnect and the broker
// redeliver. So every call must succeed (or end Canceled, for the
// cancelled ones), every request must run exactly once, none flagged as
// a redelivery, and the server must log no lost connection.
func TestBatchedAcksMixedWorkload(t *testing.T) {
	url, queue := broker(t)
	g := &mixedGreeter{runs: map[string]int{}}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	serve(t, url, queue, g, amqptransport.WithConcurrency(16), amqptransport.WithLogger(logger))
	_, client := dial(t, url, queue)

	const fast, slow, cancelled = 2000, 40, 40
	var wg sync.WaitGroup
	errs := make(chan error, fast+slow+cancelled)
	call := func(name string, cancelAfter time.Duration) {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if cancelAfter > 0 {
			time.AfterFunc(cancelAfter, cancel)
		}
		reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: name})
		switch {
		case cancelAfter > 0 && status.Code(err) == codes.Canceled:
		case err != nil:
			errs <- fmt.Errorf("%s: %w", name, err)
		case reply.GetMessage() != name:
			errs <- fmt.Errorf("%s: reply %q", name, reply.GetMessage())
		}
	}
	for i := range slow {
		wg.Add(2)
		go call(fmt.Sprintf("slow-%d", i), 0)
		go call(fmt.Sprintf("slow-cancelled-%d", i), 50*time.Millisecond)
	}
	// 32 callers of fast calls, so that confirms come back in runs.
	names := make(chan string)
	for range 32 {
		go func() {
			for name := range names {
				call(name, 0)
			}
		}()
	}
	wg.Add(fast)
	for i := range fast {
		names <- fmt.Sprintf("fast-%d", i)
	}
	close(names)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	for name, n := range g.runs {
		if n != 1 {
			t.Errorf("%s ran %d times, want once", name, n)
		}
	}
	if len(g.runs) < fast+slow {
		t.Errorf("%d requests ran, want at least %d", len(g.runs), fast+slow)
	}
	if g.redeliv > 0 {
		t.Errorf("%d executions were redeliveries: a channel was closed under the server", g.redeliv)
	}
	if out := logs.String(); strings.Contains(out, "lost its") {
		t.Errorf("the server lost a connection:\n%s", out)
	}
	t.Logf("%d requests ran once each, 0 redelivered", len(g.runs))
}
