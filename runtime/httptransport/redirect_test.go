package httptransport_test

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// TestRedirectsNotFollowed points the client at a server that redirects
// every request to another origin, which records what reaches it. The call
// must fail, and the other origin must see nothing: not the metadata, not
// even a request.
func TestRedirectsNotFollowed(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" x-api-key="+r.Header.Get("X-Api-Key")+r.Header.Get("Grpc-Metadata-X-Api-Key"))
		mu.Unlock()
		// An answer that would decode as a reply on every route.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"userId":"from-the-other-origin"}`)
	}))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		hostile := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other+r.URL.RequestURI(), code)
		}))
		callerClient := &http.Client{}
		for name, opts := range map[string][]httptransport.ClientOption{
			"default":        nil,
			"connect":        {httptransport.WithConnectRoutes()},
			"own-client":     {httptransport.WithHTTPClient(callerClient)},
			"own-client-rpc": {httptransport.WithHTTPClient(callerClient), httptransport.WithConnectRoutes()},
		} {
			t.Run(strconv.Itoa(code)+"/"+name, func(t *testing.T) {
				client := usersClient(t, hostile, opts...)
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-api-key", "secret")
				reply, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "42"})
				if err == nil {
					t.Fatalf("GetUser through a %d redirect = %v, nil error; want an error", code, reply)
				}
				wantCode(t, err, codes.Internal)
				_, err = client.UndeleteUser(ctx, &usersv1.UndeleteUserRequest{UserId: "42"})
				wantCode(t, err, codes.Internal)
				stream, err := client.WatchUsers(ctx, &usersv1.WatchUsersRequest{})
				if err == nil {
					_, err = stream.Recv()
				}
				wantCode(t, err, codes.Internal)
			})
		}
		if callerClient.CheckRedirect != nil {
			t.Errorf("the caller's http.Client was modified: CheckRedirect is set")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the other origin received %d requests, e.g. %q", len(leaked), leaked[0])
	}
}
