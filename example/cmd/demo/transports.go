package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func transports() []transport {
	return []transport{
		{name: "grpc", serve: serveGRPC},
		{name: "http", serve: serveHTTP},
		{name: "amqp", serve: serveAMQP},
		{name: "fallback", serve: serveFallback},
		{name: "inprocess", serve: serveInProcess},
	}
}

func serveGRPC(_ context.Context, services []*runtime.Service) (grpc.ClientConnInterface, string, func(), error) {
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

func serveInProcess(_ context.Context, services []*runtime.Service) (grpc.ClientConnInterface, string, func(), error) {
	return runtime.NewInProcessConn(services...), "direct calls, no network", func() {}, nil
}

// serveHTTP serves the services with one http.Handler: Connect routes for
// every method, REST routes for annotated ones.
func serveHTTP(_ context.Context, services []*runtime.Service) (grpc.ClientConnInterface, string, func(), error) {
	var handlers []*httptransport.Handler
	for _, s := range services {
		handlers = append(handlers, httptransport.NewHandler(s))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: httptransport.NewServeMux(handlers...)}
	go func() { _ = srv.Serve(lis) }()
	base := "http://" + lis.Addr().String()
	conn, err := httptransport.NewConn(base)
	if err != nil {
		_ = srv.Close()
		return nil, "", nil, err
	}
	return conn, "net/http server on " + base, func() { _ = srv.Shutdown(context.Background()) }, nil
}

// serveFallback puts a gRPC connection to a port nobody listens on in front
// of HTTP: every call fails over to HTTP, safely, because gRPC never sent it.
func serveFallback(ctx context.Context, services []*runtime.Service) (grpc.ClientConnInterface, string, func(), error) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()
	cc, err := grpc.NewClient(deadAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, "", nil, err
	}
	httpConn, where, stop, err := serveHTTP(ctx, services)
	if err != nil {
		_ = cc.Close()
		return nil, "", nil, err
	}
	conn := runtime.NewFallbackConn(grpctransport.NewConn(cc), httpConn)
	return conn, "gRPC to " + deadAddr + " (nothing there), then " + where, func() { _ = cc.Close(); stop() }, nil
}

// restGet fetches a REST route with plain net/http, to show what travels.
func restGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", errors.New(resp.Status + ": " + string(body))
	}
	return fmt.Sprintf("%s %s", resp.Status, body), nil
}

// serveAMQP serves each service from its queue on the broker at AMQP_URL
// and calls through Direct Reply-to. Without a broker it is skipped, saying
// how to start one.
func serveAMQP(_ context.Context, services []*runtime.Service) (grpc.ClientConnInterface, string, func(), error) {
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	srv := amqptransport.NewServer()
	for _, s := range services {
		srv.Register(s)
	}
	if err := srv.Start(url); err != nil {
		return nil, fmt.Sprintf("no RabbitMQ broker at %s (%v); start one with `rabbitmq-server -detached` or set AMQP_URL", redact(url), err), nil, nil
	}
	conn, err := amqptransport.Dial(url)
	if err != nil {
		_ = srv.Close()
		return nil, "", nil, err
	}
	stop := func() {
		_ = conn.Close()
		_ = srv.Shutdown(context.Background())
	}
	return conn, "RabbitMQ at " + redact(url) + ", one queue per service", stop, nil
}

// redact hides the password in an AMQP URL.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if colon := strings.Index(url[:at], "://"); colon >= 0 {
			if pw := strings.LastIndex(url[:at], ":"); pw > colon+2 {
				return url[:pw+1] + "***" + url[at:]
			}
		}
	}
	return url
}
