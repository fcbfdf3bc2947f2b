package grpctransport_test

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

// serve starts a real grpc-go server on loopback serving services and
// returns a client connection to it; both stop when the test ends.
func serve(t *testing.T, services ...*runtime.Service) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	for _, s := range services {
		grpctransport.Register(srv, s)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Transport{
		Name: grpctransport.Name,
		Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
			return grpctransport.NewConn(serve(t, services...))
		},
		ServerStreaming: true,
		ClientStreaming: true,
		BidiStreaming:   true,
	})
}
