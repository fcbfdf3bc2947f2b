package runtime_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

// grpcGoGreeter implements protoc-gen-go-grpc's server interface, as a team
// that already serves grpc-go would have it.
type grpcGoGreeter struct {
	helloworld.UnimplementedGreeterServer
}

func (grpcGoGreeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	if in.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is empty")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetHeader(ctx, metadata.MD{"x-seen": md.Get("x-caller")})
	return &helloworld.HelloReply{Message: "Hello, " + in.GetName()}, nil
}

// TestGRPCGoCodeBothWays runs protoc-gen-go-grpc's generated client over
// this module's connections, and a service registered from
// protoc-gen-go-grpc's description behind them, against svcclient's client
// too.
func TestGRPCGoCodeBothWays(t *testing.T) {
	grpcGoService, err := runtime.NewGRPCService(&helloworld.Greeter_ServiceDesc, grpcGoGreeter{})
	if err != nil {
		t.Fatal(err)
	}
	ours := helloworldsvc.NewGreeterService(grpcGoGreeter{})

	// A plain grpc.Server with the service registered by grpc-go's own code.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	helloworld.RegisterGreeterServer(srv, grpcGoGreeter{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })

	conns := map[string]grpc.ClientConnInterface{
		"in-process, grpc-go service":           runtime.NewInProcessConn(grpcGoService),
		"in-process, svcclient service":         runtime.NewInProcessConn(ours),
		"fallback to in-process":                runtime.NewFallbackConn(deadGRPC(), runtime.NewInProcessConn(grpcGoService)),
		"*grpc.ClientConn":                      cc,
		"grpctransport over a grpc-go server":   grpctransport.NewConn(cc),
		"grpctransport, svcclient registration": grpcConn(t, grpcGoService, ""),
	}
	for name, conn := range conns {
		t.Run(name, func(t *testing.T) {
			for clientName, client := range map[string]helloworld.GreeterClient{
				"protoc-gen-go-grpc client": helloworld.NewGreeterClient(conn),
				"svcclient client":          helloworldsvc.NewGreeterClient(conn),
			} {
				ctx := metadata.AppendToOutgoingContext(ctxFor(t), "x-caller", "ada")
				var header metadata.MD
				reply, err := client.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"}, grpc.Header(&header))
				if err != nil || reply.GetMessage() != "Hello, Ada" {
					t.Errorf("%s: %v, %v", clientName, reply, err)
				}
				if got := header.Get("x-seen"); len(got) != 1 || got[0] != "ada" {
					t.Errorf("%s: header x-seen = %q, want the caller's metadata echoed", clientName, got)
				}
				_, err = client.SayHello(ctx, &helloworld.HelloRequest{})
				if status.Code(err) != codes.InvalidArgument {
					t.Errorf("%s: empty name gave %v, want InvalidArgument", clientName, err)
				}
			}
		})
	}
}

// TestNewGRPCServiceChecksImplementation: a grpc-go description and an
// implementation of another service do not bind.
func TestNewGRPCServiceChecksImplementation(t *testing.T) {
	if _, err := runtime.NewGRPCService(&helloworld.Greeter_ServiceDesc, notAGreeter{}); err == nil {
		t.Error("NewGRPCService accepted an implementation of nothing")
	}
}
