package runtime_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
)

// TestPanicDetails checks the development option: with WithPanicDetails
// the client sees the panic value.
func TestPanicDetails(t *testing.T) {
	_, logger := conformance.PanicLog()
	svc := helloworldsvc.NewGreeterService(conformance.Greeter{}, runtime.WithLogger(logger), runtime.WithPanicDetails())
	client := helloworldsvc.NewGreeterClient(runtime.NewInProcessConn(svc))
	_, err := client.SayHello(context.Background(), &helloworld.HelloRequest{Name: "panic"})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), conformance.PanicSecret) {
		t.Errorf("with WithPanicDetails: %v, want Internal with the panic value", err)
	}
}

// TestPanicDefaultLogger checks that without WithLogger a panic goes to
// slog.Default, as set when the panic happens.
func TestPanicDefaultLogger(t *testing.T) {
	log, logger := conformance.PanicLog()
	saved := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(saved) })
	client := helloworldsvc.NewGreeterClient(runtime.NewInProcessConn(helloworldsvc.NewGreeterService(conformance.Greeter{})))
	_, err := client.SayHello(context.Background(), &helloworld.HelloRequest{Name: "panic"})
	conformance.WantPanicHidden(t, err, log, "/helloworld.Greeter/SayHello")
}
