package tlstest_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/amqptest"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/internal/tlstest"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/amqptransport"
	"github.com/svcclient/svcclient/runtime/grpctransport"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// secureTransport is one row of the matrix: a transport served over TLS.
type secureTransport struct {
	name            string
	answeredBy      string
	serverStreaming bool
	// serve serves services over TLS with the PKI's server certificate,
	// asking for a client certificate if mutual, until the test ends. It
	// returns how to dial them with a client TLS configuration.
	serve func(t *testing.T, pki *tlstest.PKI, mutual bool, services ...*runtime.Service) dialFunc
}

// dialFunc connects to a served transport with a client TLS configuration.
// A refused handshake may fail here (AMQP dials at once) or on the first
// call (HTTP and gRPC connect lazily).
type dialFunc func(t *testing.T, client *tls.Config) (grpc.ClientConnInterface, error)

// TestMatrix runs the same calls (unary, an error with details, metadata
// both ways, a server stream) over every transport that offers TLS, with
// server-only and with mutual TLS, and checks that clients the server must
// not talk to are refused.
func TestMatrix(t *testing.T) {
	pki := tlstest.New(t)
	// other is a CA the servers do not know, and whose server certificate
	// no client trusts.
	other := tlstest.New(t)
	for _, tr := range []secureTransport{
		{name: "https HTTP/1.1", answeredBy: httptransport.Name, serverStreaming: true, serve: serveHTTPS(false)},
		{name: "https HTTP/2", answeredBy: httptransport.Name, serverStreaming: true, serve: serveHTTPS(true)},
		{name: "gRPC", answeredBy: grpctransport.Name, serverStreaming: true, serve: serveGRPC},
		{name: "amqps", answeredBy: amqptransport.Name, serve: serveAMQPS},
	} {
		for _, mutual := range []bool{false, true} {
			mode := "server TLS"
			if mutual {
				mode = "mutual TLS"
			}
			t.Run(tr.name+"/"+mode, func(t *testing.T) {
				conformance.RunCalls(t, conformance.Transport{
					Name: tr.answeredBy,
					Serve: func(t *testing.T, services ...*runtime.Service) grpc.ClientConnInterface {
						conn, err := tr.serve(t, pki, mutual, services...)(t, pki.ClientConfig(mutual))
						if err != nil {
							t.Fatal(err)
						}
						return conn
					},
					ServerStreaming: tr.serverStreaming,
				})
				if tr.answeredBy == httptransport.Name {
					t.Run("REST", func(t *testing.T) { testREST(t, tr, pki, mutual) })
				}
				t.Run("refused", func(t *testing.T) {
					dial := tr.serve(t, pki, mutual, helloworldsvc.NewGreeterService(conformance.Greeter{}))
					// A client that does not trust the CA refuses the server.
					untrusting := other.ClientConfig(mutual)
					wantRefused(t, "a client that does not trust the CA", dial, untrusting)
					if !mutual {
						return
					}
					wantRefused(t, "a client without a certificate", dial, pki.ClientConfig(false))
					foreign := pki.ClientConfig(false)
					foreign.Certificates = []tls.Certificate{other.Client}
					wantRefused(t, "a client certificate from another CA", dial, foreign)
				})
			})
		}
	}
}

// testREST makes calls on google.api.http routes, which RunCalls's
// services do not have, over the same TLS setup.
func testREST(t *testing.T, tr secureTransport, pki *tlstest.PKI, mutual bool) {
	conn, err := tr.serve(t, pki, mutual, usersv1svc.NewUserServiceService(conformance.EchoUsers{}))(t, pki.ClientConfig(mutual))
	if err != nil {
		t.Fatal(err)
	}
	users := usersv1svc.NewUserServiceClient(conn)
	u, err := users.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "ada"})
	if err != nil || u.GetUserId() != "ada" {
		t.Fatalf("GET /v1/users/ada = %v, %v", u, err)
	}
	_, err = users.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "missing"})
	if st := status.Convert(err); st.Code() != codes.NotFound || len(st.Details()) != 1 {
		t.Errorf("GET /v1/users/missing = %v with %d details, want NotFound with an ErrorInfo", err, len(st.Details()))
	}
}

// wantRefused checks that a client with config cannot make a call.
func wantRefused(t *testing.T, who string, dial dialFunc, config *tls.Config) {
	t.Helper()
	conn, err := dial(t, config)
	if err != nil {
		return
	}
	_, err = helloworldsvc.NewGreeterClient(conn).SayHello(testContext(t), &helloworld.HelloRequest{Name: "Ada"})
	if err == nil {
		t.Errorf("%s was served", who)
		return
	}
	// The handshake failed, so no call reached a handler: the transport
	// reports the connection's failure, never a handler's answer.
	if status.Code(err) != codes.Unavailable {
		t.Errorf("%s: %v, want the connection's failure", who, err)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// serveHTTPS serves over https, offering only HTTP/2 or only HTTP/1.1 in
// the handshake; a request that arrives with the other version is answered
// 505, so a row cannot pass on the wrong protocol.
func serveHTTPS(http2 bool) func(*testing.T, *tlstest.PKI, bool, ...*runtime.Service) dialFunc {
	return func(t *testing.T, pki *tlstest.PKI, mutual bool, services ...*runtime.Service) dialFunc {
		handlers := make([]*httptransport.Handler, len(services))
		for i, s := range services {
			handlers[i] = httptransport.NewHandler(s)
		}
		mux := httptransport.NewServeMux(handlers...)
		wantMajor := 1
		var protocols http.Protocols
		if http2 {
			wantMajor = 2
			protocols.SetHTTP2(true)
		} else {
			protocols.SetHTTP1(true)
		}
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor != wantMajor {
					http.Error(w, "the matrix row expects another HTTP version than "+r.Proto, http.StatusHTTPVersionNotSupported)
					return
				}
				mux.ServeHTTP(w, r)
			}),
			TLSConfig: pki.ServerConfig(mutual),
			Protocols: &protocols,
			// Refused handshakes are the point of some tests.
			ErrorLog: log.New(io.Discard, "", 0),
		}
		lis := listen(t)
		go func() { _ = srv.ServeTLS(lis, "", "") }()
		t.Cleanup(func() { _ = srv.Close() })
		baseURL := "https://" + lis.Addr().String()
		return func(t *testing.T, client *tls.Config) (grpc.ClientConnInterface, error) {
			return httptransport.NewConn(baseURL, httptransport.WithTLSConfig(client))
		}
	}
}

func serveGRPC(t *testing.T, pki *tlstest.PKI, mutual bool, services ...*runtime.Service) dialFunc {
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerConfig(mutual))))
	for _, s := range services {
		grpctransport.Register(srv, s)
	}
	lis := listen(t)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return func(t *testing.T, client *tls.Config) (grpc.ClientConnInterface, error) {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(client)))
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = cc.Close() })
		return grpctransport.NewConn(cc), nil
	}
}

// serveAMQPS serves through a TLS-terminating proxy in front of the shared
// broker. The broker has no TLS listener, and its configuration is shared
// by every test and developer on the machine, so the test cannot give it
// one: the proxy plays the broker's TLS listener instead, with the
// server's certificate, and, for mutual TLS, requires and verifies client
// certificates as a broker with fail_if_no_peer_cert would. Both ends of
// the transport dial amqps:// with their tls.Config, so what is tested is
// the transport's TLS client; the server end presents the client
// certificate too, as any client of an mTLS broker must.
func serveAMQPS(t *testing.T, pki *tlstest.PKI, mutual bool, services ...*runtime.Service) dialFunc {
	brokerURL := amqptest.URL(t)
	proxy := amqptest.NewTLSProxyConfig(t, brokerURL, pki.ServerConfig(mutual))
	srv := amqptransport.NewServer(amqptransport.WithTLSConfig(pki.ClientConfig(true)))
	queues := map[string]string{} // service name → its queue for this test
	for _, s := range services {
		q := amqptest.Queue(t, brokerURL)
		queues[s.Name()] = q
		srv.Register(s, amqptransport.WithQueue(q))
	}
	if err := srv.Start(proxy.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	route := amqptransport.WithRouting(func(fullMethod string) (string, string) {
		service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
		return "", queues[service]
	})
	return func(t *testing.T, client *tls.Config) (grpc.ClientConnInterface, error) {
		conn, err := amqptransport.Dial(proxy.URL(), route, amqptransport.WithTLSConfig(client))
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn, nil
	}
}
