package interop_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/interop/gen/helloworld/helloworldconnect"
	"github.com/svcclient/svcclient/interop/gen/streaming/v1/streamingv1connect"
	"github.com/svcclient/svcclient/interop/gen/users/v1/usersv1connect"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) carries no status", err, err)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

func codecs() map[string][]httptransport.ClientOption {
	return map[string][]httptransport.ClientOption{
		"json":  nil,
		"proto": {httptransport.WithCodec(runtime.ProtoCodec{})},
	}
}

// Our client, on Connect routes, against connect-go's handlers.
func TestClientAgainstConnectGo(t *testing.T) {
	base := connectServer(t)
	for name, opts := range codecs() {
		t.Run(name, func(t *testing.T) {
			conn := dial(t, base, append(opts, httptransport.WithConnectRoutes())...)
			greeter := helloworldsvc.NewGreeterClient(conn)
			ctx := testContext(t)
			reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"})
			if err != nil || reply.GetMessage() != "Hello, Ada" {
				t.Fatalf("SayHello = %v, %v", reply, err)
			}
			_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "error"})
			st := wantCode(t, err, codes.NotFound)
			if d := st.Details(); len(d) != 1 || d[0].(*errdetails.ErrorInfo).GetReason() != "NAME_UNKNOWN" {
				t.Errorf("details = %v, want connect-go's ErrorInfo", d)
			}
			var header, trailer metadata.MD
			mdCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "r-1")
			reply, err = greeter.SayHello(mdCtx, &helloworld.HelloRequest{Name: "metadata"}, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil || reply.GetMessage() != "r-1" || !slices.Equal(header.Get("x-echo"), []string{"r-1"}) || !slices.Equal(trailer.Get("x-trailer"), []string{"done"}) {
				t.Errorf("metadata: reply %v err %v header %v trailer %v", reply, err, header, trailer)
			}
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if reply, err := greeter.SayHello(dctx, &helloworld.HelloRequest{Name: "deadline"}); err != nil || reply.GetMessage() != "deadline:true" {
				t.Errorf("deadline: %v %v", reply, err)
			}

			counter := streamingv1svc.NewCounterServiceClient(conn)
			stream, err := counter.Count(ctx, &streamingv1.CountRequest{To: 3})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for {
				msg, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, msg.GetNumber())
			}
			if !slices.Equal(got, []int64{1, 2, 3}) || !slices.Equal(stream.Trailer().Get("x-counted"), []string{"yes"}) {
				t.Errorf("Count: %v, trailer %v", got, stream.Trailer())
			}
			stream, err = counter.Count(ctx, &streamingv1.CountRequest{To: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			wantCode(t, err, codes.InvalidArgument)

			// An annotated method on its Connect route, with every kind of field.
			list := conformance.FullListUsersRequest()
			lr, err := usersv1svc.NewUserServiceClient(conn).ListUsers(ctx, list)
			if err != nil {
				t.Fatal(err)
			}
			conformance.CheckListEcho(t, lr, list)
		})
	}
}

// connect-go's client against our handler.
func TestConnectGoClientAgainstHandler(t *testing.T) {
	base := serveHTTP(t, httptransport.NewServeMux(
		httptransport.NewHandler(helloworldsvc.NewGreeterService(conformance.Greeter{})),
		httptransport.NewHandler(streamingv1svc.NewCounterServiceService(conformance.Counter{})),
		httptransport.NewHandler(usersv1svc.NewUserServiceService(conformance.EchoUsers{})),
	))
	for name, opts := range map[string][]connect.ClientOption{
		"proto":    nil,
		"json":     {connect.WithProtoJSON()},
		"json get": {connect.WithProtoJSON(), connect.WithHTTPGet()},
		"gzip":     {connect.WithSendGzip()},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			greeter := helloworldconnect.NewGreeterClient(http.DefaultClient, base, opts...)
			resp, err := greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "Ada"}))
			if err != nil || resp.Msg.GetMessage() != "Hello, Ada" {
				t.Fatalf("SayHello = %v, %v", resp, err)
			}
			_, err = greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "error"}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("error = %v, want not_found", err)
			}
			var cerr *connect.Error
			if !errors.As(err, &cerr) || len(cerr.Details()) != 1 {
				t.Fatalf("error %v has no detail", err)
			}
			if v, derr := cerr.Details()[0].Value(); derr != nil || v.(*errdetails.ErrorInfo).GetReason() != conformance.ErrorReason {
				t.Errorf("detail = %v, %v", v, derr)
			}
			req := connect.NewRequest(&helloworld.HelloRequest{Name: "metadata"})
			req.Header().Set("X-Request-Id", "r-2")
			req.Header().Set("X-Token-Bin", connect.EncodeBinaryHeader([]byte{0, 1, 0xfe}))
			resp, err = greeter.SayHello(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Msg.GetMessage() != "r-2" || resp.Header().Get("X-Echo") != "r-2" || resp.Trailer().Get("X-Trailer") != "done" {
				t.Errorf("metadata: %v header %v trailer %v", resp.Msg, resp.Header(), resp.Trailer())
			}
			if b, err := connect.DecodeBinaryHeader(resp.Header().Get("X-Echo-Bin")); err != nil || string(b) != "\x00\x01\xfe" {
				t.Errorf("binary header came back as %q (%v)", b, err)
			}
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if resp, err := greeter.SayHello(dctx, connect.NewRequest(&helloworld.HelloRequest{Name: "deadline"})); err != nil || resp.Msg.GetMessage() != "deadline:true" {
				t.Errorf("deadline: %v %v", resp, err)
			}

			users := usersv1connect.NewUserServiceClient(http.DefaultClient, base, opts...)
			u, err := users.GetUser(ctx, connect.NewRequest(&usersv1.GetUserRequest{UserId: "a/b?c"}))
			if err != nil || u.Msg.GetUserId() != "a/b?c" {
				t.Errorf("GetUser = %v, %v", u, err)
			}
			list := conformance.FullListUsersRequest()
			lr, err := users.ListUsers(ctx, connect.NewRequest(list))
			if err != nil {
				t.Fatal(err)
			}
			conformance.CheckListEcho(t, lr.Msg, list)

			counter := streamingv1connect.NewCounterServiceClient(http.DefaultClient, base, opts...)
			stream, err := counter.Count(ctx, connect.NewRequest(&streamingv1.CountRequest{To: 4}))
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for stream.Receive() {
				got = append(got, stream.Msg().GetNumber())
			}
			if err := stream.Err(); err != nil || !slices.Equal(got, []int64{1, 2, 3, 4}) {
				t.Errorf("Count: %v, %v", got, err)
			}
			if stream.ResponseHeader().Get("X-Count") != "4" || stream.ResponseTrailer().Get("X-Counted") != "4" {
				t.Errorf("Count header %v trailer %v", stream.ResponseHeader(), stream.ResponseTrailer())
			}
			stream, err = counter.Count(ctx, connect.NewRequest(&streamingv1.CountRequest{To: -1}))
			if err != nil {
				t.Fatal(err)
			}
			for stream.Receive() {
			}
			if connect.CodeOf(stream.Err()) != connect.CodeInvalidArgument {
				t.Errorf("Count(-1) ended with %v, want invalid_argument", stream.Err())
			}
			// Client streaming over HTTP/1.1 (http.DefaultClient).
			sum := counter.Sum(ctx)
			for _, n := range []int64{1, 2, 3} {
				if err := sum.Send(&streamingv1.SumRequest{Number: n}); err != nil {
					t.Fatal(err)
				}
			}
			if res, err := sum.CloseAndReceive(); err != nil || res.Msg.GetTotal() != 6 || res.Msg.GetCount() != 3 {
				t.Errorf("Sum = %v, %v; want 6 of 3", res, err)
			}
		})
	}
}

// Our client, on REST routes, against grpc-gateway and against our own
// handler: the same calls must give the same answers.
func TestClientAgainstGateway(t *testing.T) {
	servers := map[string]string{
		"grpc-gateway":                  gatewayServer(t),
		"grpc-gateway all-but-reserved": gatewayServer(t, gwruntime.WithUnescapingMode(gwruntime.UnescapingModeAllExceptReserved)),
		"svcclient":                     svcclientServer(t),
	}
	for name, base := range servers {
		t.Run(name, func(t *testing.T) {
			// grpc-gateway's default (legacy) unescaping decodes the path
			// before matching it, so a "/" inside a one-segment variable
			// cannot reach it; every other case must pass everywhere.
			slashInSegment := name != "grpc-gateway"
			testREST(t, usersv1svc.NewUserServiceClient(dial(t, base)), slashInSegment)
		})
	}
}

func testREST(t *testing.T, client usersv1svc.UserServiceClient, slashInSegment bool) {
	ctx := testContext(t)
	check := func(what string, got, want proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	ids := []string{"42", "sp ace:colon%25?#&=+", "ünï", "a.b~c"}
	if slashInSegment {
		ids = append(ids, "a/b")
	}
	for _, id := range ids {
		u, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: id})
		check("GetUser "+id, u, &usersv1.User{UserId: id}, err)
	}
	list := conformance.FullListUsersRequest()
	lr, err := client.ListUsers(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	conformance.CheckListEcho(t, lr, list)
	u, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{DisplayName: "Ada", Roles: []usersv1.Role{usersv1.Role_ROLE_ADMIN}, CreateTime: timestamppb.New(time.Unix(1e9, 0))}, RequestId: "r1"})
	check("CreateUser", u, &usersv1.User{DisplayName: "Ada|r1", Roles: []usersv1.Role{usersv1.Role_ROLE_ADMIN}, CreateTime: timestamppb.New(time.Unix(1e9, 0))}, err)
	u, err = client.UpdateUser(ctx, &usersv1.UpdateUserRequest{User: &usersv1.User{UserId: "u1", Email: "a@b"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email", "profile.bio"}}})
	check("UpdateUser", u, &usersv1.User{UserId: "u1", Email: "a@b", DisplayName: "email,profile.bio"}, err)
	u, err = client.UpdateUser(ctx, &usersv1.UpdateUserRequest{User: &usersv1.User{UserId: "u1", Email: "a@b", Profile: &usersv1.Profile{Bio: "b"}}})
	check("UpdateUser without a mask", u, &usersv1.User{UserId: "u1", Email: "a@b", Profile: &usersv1.Profile{Bio: "b"}, DisplayName: "email,profile.bio,user_id"}, err)
	_, err = client.DeleteUser(ctx, &usersv1.DeleteUserRequest{UserId: "x", Force: true})
	check("DeleteUser", &emptypb.Empty{}, &emptypb.Empty{}, err)
	_, err = client.DeleteUser(ctx, &usersv1.DeleteUserRequest{UserId: "x"})
	wantCode(t, err, codes.FailedPrecondition)
	u, err = client.UndeleteUser(ctx, &usersv1.UndeleteUserRequest{UserId: "7", Reason: "oops"})
	check("UndeleteUser", u, &usersv1.User{UserId: "7", DisplayName: "oops"}, err)
	u, err = client.GetOrgUser(ctx, &usersv1.GetOrgUserRequest{Name: "orgs/ac me/users/a:b@c"})
	check("GetOrgUser", u, &usersv1.User{UserId: "orgs/ac me/users/a:b@c"}, err)
	p, err := client.GetProfile(ctx, &usersv1.GetProfileRequest{UserId: "ada"})
	check("GetProfile", p, &usersv1.GetProfileResponse{Profile: &usersv1.Profile{Bio: "ada", Location: "here"}}, err)
	for _, path := range []string{"a", "dir/sub dir/file:v1.txt", "x/", "%2F/literal"} {
		f, err := client.GetFile(ctx, &usersv1.GetFileRequest{Path: path})
		check("GetFile "+path, f, &usersv1.File{Path: path, Content: []byte("content of " + path)}, err)
	}
	_, err = client.PurgeCache(ctx, &usersv1.PurgeCacheRequest{UserId: "ada"})
	check("PurgeCache", &emptypb.Empty{}, &emptypb.Empty{}, err)

	_, err = client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "missing"})
	st := wantCode(t, err, codes.NotFound)
	if d := st.Details(); len(d) != 1 || d[0].(*errdetails.ErrorInfo).GetReason() != "USER_UNKNOWN" {
		t.Errorf("details = %v, want the ErrorInfo", d)
	}

	mdCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "r-9")
	var header, trailer metadata.MD
	if _, err := client.GetUser(mdCtx, &usersv1.GetUserRequest{UserId: "1"}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(header.Get("x-echo"), []string{"r-9"}) || !slices.Equal(trailer.Get("x-trailer"), []string{"done"}) {
		t.Errorf("header %v trailer %v; want x-echo r-9 and x-trailer done", header, trailer)
	}

	stream, err := client.WatchUsers(ctx, &usersv1.WatchUsersRequest{UserIds: []string{"a", "b"}, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.GetUser().GetUserId())
	}
	if !slices.Equal(got, []string{"a", "b", "a"}) {
		t.Errorf("WatchUsers: %v", got)
	}
	stream, err = client.WatchUsers(ctx, &usersv1.WatchUsersRequest{UserIds: []string{"fail"}, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantCode(t, err, codes.FailedPrecondition)
}

// Requests shaped as grpc-gateway accepts them, sent by plain net/http to
// grpc-gateway and to our handler: both must decode the same request.
func TestGatewayShapedRequests(t *testing.T) {
	gateway := gatewayServer(t, gwruntime.WithUnescapingMode(gwruntime.UnescapingModeAllExceptReserved))
	ours := svcclientServer(t)
	for _, tc := range []struct {
		method, target, body string
		resp                 func() proto.Message
	}{
		{"GET", "/v1/users/42", "", func() proto.Message { return new(usersv1.User) }},
		{"GET", "/v1/users/a%2Fb%20c", "", func() proto.Message { return new(usersv1.User) }},
		{"GET", "/v1/users?page_size=5&page_token=a+b%26c&include_deleted=true&min_score=1.5", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?pageSize=5&includeDeleted=true&filter.emailDomain=x.org", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?filter.email_domain=x.org&filter.role=ROLE_ADMIN&roles=ROLE_READER&roles=2", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?user_ids=a&user_ids=b&user_ids=", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?created_after=2024-01-02T03:04:05.5Z&max_age=1h30m&read_mask=display_name,profile.bio", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?min_roles=0&name_prefix=&team=&cursor=-_8%3D", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?cursor=AQID", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?nope=1&filter.nope=2", "", func() proto.Message { return new(usersv1.ListUsersResponse) }},
		{"GET", "/v1/users?page_size=x", "", nil},
		{"GET", "/v1/users?roles=ROLE_NOPE", "", nil},
		{"GET", "/v1/users?created_after=yesterday", "", nil},
		{"GET", "/v1/users?page_size=1&page_size=2", "", nil},
		{"POST", "/v1/users?request_id=q1", `{"displayName":"Ada","roles":["ROLE_ADMIN"]}`, func() proto.Message { return new(usersv1.User) }},
		{"POST", "/v1/users", `{"displayName":`, nil},
		{"PATCH", "/v1/users/u1", `{"email":"e","profile":{"bio":"b"}}`, func() proto.Message { return new(usersv1.User) }},
		{"PATCH", "/v1/users/u1?update_mask=email", `{"email":"e","profile":{"bio":"b"}}`, func() proto.Message { return new(usersv1.User) }},
		{"DELETE", "/v1/users/x?force=true", "", func() proto.Message { return new(emptypb.Empty) }},
		{"DELETE", "/v1/users/x", "", nil},
		{"POST", "/v1/users/7:undelete", `{"reason":"r","userId":"overridden by the path"}`, func() proto.Message { return new(usersv1.User) }},
		{"GET", "/v1/orgs/acme/users/ada", "", func() proto.Message { return new(usersv1.User) }},
		{"GET", "/v1/legacy/orgs/acme/users/ada", "", func() proto.Message { return new(usersv1.User) }},
		{"GET", "/v1/orgs/acme/teams/ada", "", nil},
		{"GET", "/v1/users/ada/profile", "", func() proto.Message { return new(usersv1.Profile) }},
		{"GET", "/v1/files/a/b%20c/d.txt", "", func() proto.Message { return new(usersv1.File) }},
		{"PURGE", "/v1/users/ada/cache", "", func() proto.Message { return new(emptypb.Empty) }},
		{"GET", "/v1/users/missing", "", nil},
		{"GET", "/v2/nothing", "", nil},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			gwStatus, gwBody := rawDo(t, tc.method, gateway+tc.target, tc.body)
			ourStatus, ourBody := rawDo(t, tc.method, ours+tc.target, tc.body)
			if tc.resp == nil {
				// Errors: both fail, with a google.rpc.Status body. The codes
				// may differ where the two say "no route" differently.
				if gwStatus < 400 || ourStatus < 400 {
					t.Fatalf("status: grpc-gateway %d, svcclient %d; want both to fail", gwStatus, ourStatus)
				}
				for _, b := range []string{gwBody, ourBody} {
					var st struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
					}
					if err := jsonUnmarshal(b, &st); err != nil || st.Code == 0 || st.Message == "" {
						t.Errorf("error body %q is not google.rpc.Status", b)
					}
				}
				if !strings.HasPrefix(tc.target, "/v2/") && gwStatus != ourStatus {
					t.Errorf("status: grpc-gateway %d (%s), svcclient %d (%s)", gwStatus, gwBody, ourStatus, ourBody)
				}
				return
			}
			if gwStatus != 200 || ourStatus != 200 {
				t.Fatalf("status: grpc-gateway %d (%s), svcclient %d (%s)", gwStatus, gwBody, ourStatus, ourBody)
			}
			gw, our := tc.resp(), tc.resp()
			if err := protojson.Unmarshal([]byte(gwBody), gw); err != nil {
				t.Fatal(err)
			}
			if err := protojson.Unmarshal([]byte(ourBody), our); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(gw, our) {
				t.Errorf("grpc-gateway answered\n%v\nsvcclient answered\n%v", gw, our)
			}
		})
	}
}

func rawDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
