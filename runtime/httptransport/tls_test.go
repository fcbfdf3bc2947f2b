package httptransport_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/codes"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// TestTLS checks what is particular to this package's TLS options: a
// refused handshake is marked NotSent, and the options that cannot go
// together are refused. The calls themselves over https, HTTP/1.1 and
// HTTP/2, with and without client certificates, are in the TLS matrix
// (internal/tlstest).
func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(httptransport.NewHandler(usersv1svc.NewUserServiceService(conformance.EchoUsers{})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	client := usersv1svc.NewUserServiceClient(dial(t, srv.URL, httptransport.WithTLSConfig(&tls.Config{RootCAs: roots})))
	u, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "tls"})
	if err != nil || u.GetUserId() != "tls" {
		t.Fatalf("GetUser over https = %v, %v", u, err)
	}
	// Without the server's CA the handshake fails before the request is
	// sent, and the error says so.
	_, err = usersv1svc.NewUserServiceClient(dial(t, srv.URL)).GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "tls"})
	wantCode(t, err, codes.Unavailable)
	if !isNotSent(err) {
		t.Errorf("a failed handshake is not marked NotSent: %v", err)
	}
	if _, err := httptransport.NewConn(srv.URL, httptransport.WithTLSConfig(&tls.Config{}), httptransport.WithHTTPClient(srv.Client())); err == nil {
		t.Error("WithTLSConfig and WithHTTPClient together were accepted")
	}
	for _, bad := range []string{"ftp://x", "http://", "http://h/?q=1", "::"} {
		if _, err := httptransport.NewConn(bad); err == nil {
			t.Errorf("base URL %q accepted", bad)
		}
	}
}

func isNotSent(err error) bool { return errors.Is(err, runtime.ErrNotSent) }
