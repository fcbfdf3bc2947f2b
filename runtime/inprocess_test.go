package runtime_test

import (
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
)

func TestInProcessConformance(t *testing.T) {
	conformance.Run(t, conformance.Transport{
		Name: "inprocess",
		Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
			return runtime.NewInProcessConn(services...)
		},
		ServerStreaming: true,
		ClientStreaming: true,
		BidiStreaming:   true,
	})
}
