// Command server is the server under test of the Connect conformance suite
// (connectrpc.com/conformance) for svcclient's HTTP transport: it reads a
// ServerCompatRequest from stdin, serves ConformanceService with
// httptransport's handler on a loopback port, writes a ServerCompatResponse
// saying where, and serves until it is told to stop.
//
// The runner starts it: connectconformance --mode server --conf ... -- server
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/svcclient/svcclient/conformance/gen/conformancev1"
	"github.com/svcclient/svcclient/conformance/gen/conformancev1/conformancev1svc"
	"github.com/svcclient/svcclient/conformance/internal/compat"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	req := new(conformancev1.ServerCompatRequest)
	if err := compat.ReadDelimited(os.Stdin, req); err != nil {
		return fmt.Errorf("reading the ServerCompatRequest: %w", err)
	}
	// The protocol asked for needs nothing of its own: the handler tells
	// Connect, gRPC and gRPC-Web apart by each request's Content-Type.
	if len(req.GetClientTlsCert()) > 0 {
		return errors.New("TLS client certificates are not supported by this server under test")
	}
	var opts []httptransport.HandlerOption
	if n := req.GetMessageReceiveLimit(); n > 0 {
		opts = append(opts, httptransport.WithReadMaxBytes(int(n)))
	}
	handler := httptransport.NewServeMux(httptransport.NewHandler(conformancev1svc.NewConformanceServiceService(service{}), opts...))

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withGetQuery(handler), ReadHeaderTimeout: 10 * time.Second}
	resp := &conformancev1.ServerCompatResponse{Host: "127.0.0.1", Port: uint32(lis.Addr().(*net.TCPAddr).Port)}
	if req.GetUseTls() {
		cert, err := tls.X509KeyPair(req.GetServerCreds().GetCert(), req.GetServerCreds().GetKey())
		if err != nil {
			return fmt.Errorf("server credentials: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		lis = tls.NewListener(lis, srv.TLSConfig)
		resp.PemCert = req.GetServerCreds().GetCert()
	} else {
		// HTTP/2 without TLS (h2c, prior knowledge) beside HTTP/1.1.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if err := compat.WriteDelimited(os.Stdout, resp); err != nil {
		return fmt.Errorf("writing the ServerCompatResponse: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(shutdown) != nil {
			_ = srv.Close()
		}
		return nil
	}
}
