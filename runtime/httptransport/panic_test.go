package httptransport_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
)

// TestRESTPanicHidden checks on a REST route what the conformance suite
// checks on the Connect ones: a panic's value reaches the server's log and
// neither the client's error nor the response body.
func TestRESTPanicHidden(t *testing.T) {
	log, logger := conformance.PanicLog()
	base := serve(t, nil, usersv1svc.NewUserServiceService(conformance.EchoUsers{}, runtime.WithLogger(logger)))
	client := usersClient(t, base)
	_, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "panic"})
	conformance.WantPanicHidden(t, err, log, "/example.users.v1.UserService/GetUser")

	resp, err := http.Get(base + "/v1/users/panic")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), conformance.PanicSecret) {
		t.Errorf("GET /v1/users/panic: %d %s, want 500 without the panic value", resp.StatusCode, body)
	}

	if u, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{UserId: "ada"}); err != nil || u.GetUserId() != "ada" {
		t.Fatalf("the server did not keep serving after a panic: %v, %v", u, err)
	}
}
