package amqptransport_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// nodeDir holds the Node.js server of the interop test: a helloworld.Greeter
// written from docs/amqp-protocol.md alone.
const nodeDir = "../../interop/amqp-node"

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv(amqptest.RequireEnv) == "1" {
			t.Fatalf("%s not found on PATH; %s=1 requires this test to run", tool, amqptest.RequireEnv)
		}
		t.Skipf("%s not found on PATH: install Node.js 18 or later to run the interop test", tool)
	}
}

// startNode runs server.js on queue and waits until it consumes.
func startNode(t *testing.T, url, queue string) {
	t.Helper()
	need(t, "node")
	if _, err := os.Stat(nodeDir + "/node_modules/amqplib"); err != nil {
		need(t, "npm")
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, "node", "server.js")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "AMQP_URL="+url, "QUEUE="+queue)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		cancel()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) == "ready" {
			go func() {
				for lines.Scan() {
				}
			}()
			return
		}
	}
	t.Fatalf("node server.js exited before it was ready: %v", lines.Err())
}

// TestGoClientCallsNodeServer calls the Node.js server with the generated
// Go client, in both codecs. The test needs node and npm on PATH; it runs
// `npm ci` itself when node_modules is missing. Without node it skips,
// unless SVCCLIENT_REQUIRE_AMQP=1 (as in CI), when it fails.
func TestGoClientCallsNodeServer(t *testing.T) {
	url := amqptest.URL(t)
	queue := amqptest.Queue(t, url)
	startNode(t, url, queue)

	for _, codec := range []runtime.Codec{&runtime.JSONCodec{}, runtime.ProtoCodec{}} {
		t.Run(codec.Name(), func(t *testing.T) {
			conn, err := amqptransport.Dial(url, amqptransport.WithCodec(codec),
				amqptransport.WithRouting(func(string) (string, string) { return "", queue }))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := helloworldsvc.NewGreeterClient(conn)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "req-1")
			var header, trailer metadata.MD
			reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "gopher"}, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil {
				t.Fatalf("SayHello: %v", err)
			}
			if got, want := reply.GetMessage(), "Hello gopher from node"; got != want {
				t.Errorf("reply = %q, want %q", got, want)
			}
			if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "req-1" {
				t.Errorf("header x-request-id = %q, want [req-1]", got)
			}
			if got := trailer.Get("x-served-by"); len(got) != 1 || got[0] != "node" {
				t.Errorf("trailer x-served-by = %q, want [node]", got)
			}

			_, err = client.SayHello(ctx, &helloworld.HelloRequest{Name: ""})
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "name must not be empty" {
				t.Errorf("empty name: %v, want InvalidArgument: name must not be empty", err)
			}
			_, err = client.SayHello(ctx, &helloworld.HelloRequest{Name: "crash"})
			if code := status.Code(err); code != codes.Internal {
				t.Errorf("crash: %v, want Internal", err)
			}
		})
	}
}

// TestGoAndNodeServersShareQueue starts a Go server, then the Node.js one,
// on one queue: both declare it as section 1 of docs/amqp-protocol.md says,
// so neither is refused (406), and calls are answered by both.
func TestGoAndNodeServersShareQueue(t *testing.T) {
	url := amqptest.URL(t)
	queue := amqptest.Queue(t, url)
	serve(t, url, queue, newGreeter("go"))
	startNode(t, url, queue) // fails the test if its declaration is refused
	_, client := dial(t, url, queue)
	ctx := testContext(t)
	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "both"})
		if err != nil {
			t.Fatalf("SayHello: %v", err)
		}
		seen[reply.GetMessage()] = true
	}
	if !seen["Hello both from go"] || !seen["Hello both from node"] {
		t.Errorf("answered by %v, want both servers", seen)
	}
}
