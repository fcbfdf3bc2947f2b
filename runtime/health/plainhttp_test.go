package health_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/svcclient/svcclient/runtime/health"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// TestCheckOverPlainHTTP: a probe that speaks neither gRPC nor Connect
// (curl, a load balancer's HTTP check) can POST JSON to the Connect route,
// as docs/health.md shows.
func TestCheckOverPlainHTTP(t *testing.T) {
	hs := health.NewServer()
	srv := httptest.NewServer(httptransport.NewServeMux(httptransport.NewHandler(hs.Service())))
	t.Cleanup(srv.Close)
	post := func(body string) (int, string) {
		t.Helper()
		res, err := http.Post(srv.URL+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, strings.Join(strings.Fields(string(b)), "")
	}
	if code, body := post(`{}`); code != http.StatusOK || body != `{"status":"SERVING"}` {
		t.Errorf("serving: %d %s", code, body)
	}
	hs.Shutdown()
	if code, body := post(`{"service":""}`); code != http.StatusOK || body != `{"status":"NOT_SERVING"}` {
		t.Errorf("shut down: %d %s", code, body)
	}
	if code, body := post(`{"service":"no.such.Service"}`); code != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown service: %d %s", code, body)
	}
}
