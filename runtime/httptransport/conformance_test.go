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
	return serveProtocols(t, h, nil)
}

// serveH2C is serveHTTP with cleartext HTTP/2 (h2c) served beside
// HTTP/1.1, as Go's http.Server does when its Protocols say so.
func serveH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return serveProtocols(t, h, p)
}

func serveProtocols(t *testing.T, h http.Handler, protocols *http.Protocols) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, Protocols: protocols}
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

// TestConformance runs the suite over HTTP/1.1, where every kind but bidi
// streaming is carried, and over cleartext HTTP/2, where every kind is;
// with JSON and binary protobuf, and with gzip on every message.
func TestConformance(t *testing.T) {
	proto := httptransport.WithCodec(runtime.ProtoCodec{})
	gzip := []httptransport.ClientOption{httptransport.WithCompression("gzip"), httptransport.WithCompressMinBytes(0)}
	for _, tc := range []struct {
		name    string
		h2c     bool
		opts    []httptransport.ClientOption
		handler []httptransport.HandlerOption
	}{
		{"http1/json", false, nil, nil},
		{"http1/proto", false, []httptransport.ClientOption{proto}, nil},
		{"http1/proto/gzip", false, append(gzip, proto), []httptransport.HandlerOption{httptransport.WithCompressMinBytes(0)}},
		{"h2c/json", true, []httptransport.ClientOption{httptransport.WithH2C()}, nil},
		{"h2c/proto", true, []httptransport.ClientOption{httptransport.WithH2C(), proto}, nil},
		{"h2c/json/gzip", true, append(gzip, httptransport.WithH2C()), []httptransport.HandlerOption{httptransport.WithCompressMinBytes(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.Run(t, conformance.Transport{
				Name: httptransport.Name,
				Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
					handlers := make([]*httptransport.Handler, len(services))
					for i, s := range services {
						handlers[i] = httptransport.NewHandler(s, tc.handler...)
					}
					mux := httptransport.NewServeMux(handlers...)
					if tc.h2c {
						return dial(t, serveH2C(t, mux), tc.opts...)
					}
					return dial(t, serveHTTP(t, mux), tc.opts...)
				},
				ServerStreaming: true,
				ClientStreaming: true,
				BidiStreaming:   tc.h2c,
			})
		})
	}
}
