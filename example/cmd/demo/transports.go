package main

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/grpctransport"
)

func transports() []transport {
	return []transport{
		{name: "grpc", serve: serveGRPC},
		{name: "inprocess", serve: serveInProcess},
	}
}

func serveGRPC(_ context.Context, services []*runtime.Service) (runtime.Conn, string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := grpc.NewServer()
	for _, s := range services {
		grpctransport.Register(srv, s)
	}
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, "", nil, err
	}
	stop := func() {
		_ = cc.Close()
		srv.GracefulStop()
	}
	return grpctransport.NewConn(cc), "grpc-go server on " + lis.Addr().String(), stop, nil
}

func serveInProcess(_ context.Context, services []*runtime.Service) (runtime.Conn, string, func(), error) {
	return runtime.NewInProcessConn(services...), "direct calls, no network", func() {}, nil
}
