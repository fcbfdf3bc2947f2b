package interop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	usersgw "github.com/svcclient/svcclient/interop/gen/users/v1"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// recordingUsers is EchoUsers that also keeps the incoming metadata of the
// last GetUser call.
type recordingUsers struct {
	conformance.EchoUsers
	mu   sync.Mutex
	last metadata.MD
}

func (u *recordingUsers) GetUser(ctx context.Context, in *usersv1.GetUserRequest) (*usersv1.User, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	u.mu.Lock()
	u.last = md.Copy()
	u.mu.Unlock()
	return u.EchoUsers.GetUser(ctx, in)
}

func (u *recordingUsers) seen() metadata.MD {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// defaultGateway is grpc-gateway with every default (no header matcher of
// our choosing) in front of a grpc-go server of backend.
func defaultGateway(t *testing.T, backend usersv1.UserServiceServer) string {
	t.Helper()
	lis := listen(t)
	srv := grpc.NewServer()
	usersv1.RegisterUserServiceServer(srv, backend)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	mux := gwruntime.NewServeMux()
	if err := usersgw.RegisterUserServiceHandler(context.Background(), mux, cc); err != nil {
		t.Fatal(err)
	}
	return serveHTTP(t, mux)
}

// TestHandlerMetadataAsGateway sends the same request to a default
// grpc-gateway and to our handler's REST route, and compares the metadata
// each backend sees. Keys that the gateway's gRPC hop adds itself (the
// grpc-go client's user-agent, content-type, :authority) are left out.
func TestHandlerMetadataAsGateway(t *testing.T) {
	gwBackend, ourBackend := &recordingUsers{}, &recordingUsers{}
	gateway := defaultGateway(t, gwBackend)
	ours := serveHTTP(t, httptransport.NewHandler(usersv1svc.NewUserServiceService(ourBackend)))
	send := func(base string) {
		req, err := http.NewRequestWithContext(testContext(t), "GET", base+"/v1/users/u1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer t0k3n")
		req.Header.Set("Cookie", "session=1")
		req.Header.Set("Accept-Language", "en")
		req.Header.Set("X-Request-Id", "r1")
		req.Header.Set("X-Forwarded-For", "10.0.0.1")
		req.Header.Set("Grpc-Metadata-X-Forwarded-Host", "spoofed.example")
		req.Header.Set("Grpc-Metadata-X-Custom", "v")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", base, resp.StatusCode)
		}
	}
	send(gateway)
	send(ours)
	comparable := func(md metadata.MD) metadata.MD {
		out := metadata.MD{}
		for k, v := range md {
			switch {
			case k == ":authority", k == "content-type", k == "user-agent", strings.HasPrefix(k, "grpc-"):
				continue // the gateway's gRPC hop
			case k == "x-custom":
				continue // compared below: a default gateway drops it, we keep it
			}
			out[k] = v
		}
		return out
	}
	gw, our := comparable(gwBackend.seen()), comparable(ourBackend.seen())
	// The host differs (two servers); it must be there, from the request.
	for _, md := range []metadata.MD{gw, our} {
		if h := md.Get("x-forwarded-host"); len(h) != 1 || !strings.HasPrefix(h[0], "127.0.0.1:") {
			t.Errorf("x-forwarded-host = %q, want the request's host and not the spoofed one", h)
		}
		delete(md, "x-forwarded-host")
	}
	if !reflect.DeepEqual(gw, our) {
		t.Errorf("metadata seen by the backend:\ngrpc-gateway %v\nsvcclient    %v", sortedMD(gw), sortedMD(our))
	}
	if got := ourBackend.seen().Get("x-custom"); len(got) != 1 || got[0] != "v" {
		t.Errorf("Grpc-Metadata-X-Custom reached our handler as %q, want v (the legacy matcher's behaviour, kept on purpose)", got)
	}
}

func sortedMD(md metadata.MD) string {
	var keys []string
	for k, v := range md {
		keys = append(keys, k+"="+strings.Join(v, "|"))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// TestClientMetadataThroughDefaultGateway: our REST client's metadata
// reaches the backend of a default grpc-gateway where the gateway forwards
// it at all: Authorization (and the other permanent headers) as
// themselves.
func TestClientMetadataThroughDefaultGateway(t *testing.T) {
	backend := &recordingUsers{}
	conn, err := httptransport.NewConn(defaultGateway(t, backend))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(testContext(t), "authorization", "Bearer t0k3n", "accept-language", "fr")
	if _, err := usersv1svc.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{UserId: "u1"}); err != nil {
		t.Fatal(err)
	}
	md := backend.seen()
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer t0k3n" {
		t.Errorf("the backend saw authorization %q, want the caller's token", got)
	}
	if got := md.Get("grpcgateway-accept-language"); len(got) != 1 || got[0] != "fr" {
		t.Errorf("the backend saw grpcgateway-accept-language %q, want fr", got)
	}
}

// TestJSONShapesAsGateway compares raw JSON answers of a default
// grpc-gateway and of our handler: the same keys (unpopulated fields
// included), and the same routing errors.
func TestJSONShapesAsGateway(t *testing.T) {
	gateway := defaultGateway(t, &recordingUsers{})
	ours := serveHTTP(t, httptransport.NewHandler(usersv1svc.NewUserServiceService(&recordingUsers{})))
	for _, tc := range []struct{ method, target string }{
		{"GET", "/v1/users/u1"},              // a User with most fields unset
		{"GET", "/v1/users/ada/profile"},     // response_body
		{"GET", "/v1/users/missing"},         // an error with details
		{"GET", "/v2/nothing"},               // no route
		{"PUT", "/v1/users/ada"},             // a route with another verb
		{"DELETE", "/v1/users/x?force=true"}, // google.protobuf.Empty
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			gwStatus, gwBody := rawDo(t, tc.method, gateway+tc.target, "")
			ourStatus, ourBody := rawDo(t, tc.method, ours+tc.target, "")
			if gwStatus != ourStatus {
				t.Errorf("status: grpc-gateway %d (%s), svcclient %d (%s)", gwStatus, gwBody, ourStatus, ourBody)
			}
			var gw, our any
			if err := json.Unmarshal([]byte(gwBody), &gw); err != nil {
				t.Fatalf("grpc-gateway body %q: %v", gwBody, err)
			}
			if err := json.Unmarshal([]byte(ourBody), &our); err != nil {
				t.Fatalf("svcclient body %q: %v", ourBody, err)
			}
			if !reflect.DeepEqual(gw, our) {
				t.Errorf("bodies differ:\ngrpc-gateway %s\nsvcclient    %s", gwBody, ourBody)
			}
		})
	}
}
