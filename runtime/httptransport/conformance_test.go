package httptransport_test

import (
	"net"
	"net/http"
	"testing"

	"google.golang.org/grpc"

	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// serve starts an HTTP server on loopback serving services and returns its
// base URL; the server stops when the test ends.
func serve(t *testing.T, opts []httptransport.HandlerOption, services ...*runtime.Service) string {
	t.Helper()
	handlers := make([]*httptransport.Handler, len(services))
	for i, s := range services {
		handlers[i] = httptransport.NewHandler(s, opts...)
	}
	return serveHTTP(t, httptransport.NewServeMux(handlers...))
}

func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + lis.Addr().String()
}

func dial(t *testing.T, baseURL string, opts ...httptransport.ClientOption) *httptransport.Conn {
	t.Helper()
	conn, err := httptransport.NewConn(baseURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []httptransport.ClientOption
	}{
		{"json", nil},
		{"proto", []httptransport.ClientOption{httptransport.WithCodec(runtime.ProtoCodec{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.Run(t, conformance.Transport{
				Name: httptransport.Name,
				Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
					return dial(t, serve(t, nil, services...), tc.opts...)
				},
				ServerStreaming: true,
			})
		})
	}
}
