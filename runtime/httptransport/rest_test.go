package httptransport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	usersv1 "github.com/svcclient/svcclient/example/gen/users/v1"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func usersServer(t *testing.T, opts ...httptransport.HandlerOption) string {
	return serve(t, opts, usersv1svc.NewUserServiceService(conformance.EchoUsers{}))
}

func usersClient(t *testing.T, baseURL string, opts ...httptransport.ClientOption) usersv1svc.UserServiceClient {
	return usersv1svc.NewUserServiceClient(dial(t, baseURL, opts...))
}

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

func TestRESTRoutes(t *testing.T) {
	for _, codec := range []runtime.Codec{nil, runtime.ProtoCodec{}} {
		name := "json"
		var opts []httptransport.ClientOption
		if codec != nil {
			name, opts = "proto", []httptransport.ClientOption{httptransport.WithCodec(codec)}
		}
		t.Run(name, func(t *testing.T) { testRESTRoutes(t, usersClient(t, usersServer(t), opts...)) })
	}
}

func testRESTRoutes(t *testing.T, client usersv1svc.UserServiceClient) {
	ctx := testContext(t)
	check := func(what string, got, want proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	// A single-segment variable is escaped whole: "/" included.
	for _, id := range []string{"42", "a/b", "sp ace:colon%25?#&=+", "ünï", ""} {
		u, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: id})
		check("GetUser "+id, u, &usersv1.User{UserId: id}, err)
	}
	list := conformance.FullListUsersRequest()
	lr, err := client.ListUsers(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	conformance.CheckListEcho(t, lr, list)
	u, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{DisplayName: "Ada", Roles: []usersv1.Role{usersv1.Role_ROLE_ADMIN}}, RequestId: "r1"})
	check("CreateUser", u, &usersv1.User{DisplayName: "Ada|r1", Roles: []usersv1.Role{usersv1.Role_ROLE_ADMIN}}, err)
	u, err = client.UpdateUser(ctx, &usersv1.UpdateUserRequest{User: &usersv1.User{UserId: "u/1", Email: "a@b"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email", "profile.bio"}}})
	check("UpdateUser", u, &usersv1.User{UserId: "u/1", Email: "a@b", DisplayName: "email,profile.bio"}, err)
	_, err = client.DeleteUser(ctx, &usersv1.DeleteUserRequest{UserId: "x", Force: true})
	check("DeleteUser", &usersv1.User{}, &usersv1.User{}, err)
	_, err = client.DeleteUser(ctx, &usersv1.DeleteUserRequest{UserId: "x"})
	wantCode(t, err, codes.FailedPrecondition)
	u, err = client.UndeleteUser(ctx, &usersv1.UndeleteUserRequest{UserId: "7", Reason: "oops"})
	check("UndeleteUser", u, &usersv1.User{UserId: "7", DisplayName: "oops"}, err)
	u, err = client.GetOrgUser(ctx, &usersv1.GetOrgUserRequest{Name: "orgs/ac me/users/a:b@c"})
	check("GetOrgUser", u, &usersv1.User{UserId: "orgs/ac me/users/a:b@c"}, err)
	_, err = client.GetOrgUser(ctx, &usersv1.GetOrgUserRequest{Name: "teams/x/users/y"})
	if st := wantCode(t, err, codes.InvalidArgument); !strings.Contains(st.Message(), "orgs/*/users/*") {
		t.Errorf("a name outside the template: %q does not name the template", st.Message())
	}
	p, err := client.GetProfile(ctx, &usersv1.GetProfileRequest{UserId: "ada"})
	// Only the profile travels: response_body drops the etag.
	check("GetProfile", p, &usersv1.GetProfileResponse{Profile: &usersv1.Profile{Bio: "ada", Location: "here"}}, err)
	for _, path := range []string{"a", "dir/sub dir/file:v1.txt", "", "x/", "%2F/literal"} {
		f, err := client.GetFile(ctx, &usersv1.GetFileRequest{Path: path})
		check("GetFile "+path, f, &usersv1.File{Path: path, Content: []byte("content of " + path)}, err)
	}
	_, err = client.PurgeCache(ctx, &usersv1.PurgeCacheRequest{UserId: "ada"})
	check("PurgeCache", &usersv1.User{}, &usersv1.User{}, err)
	_, err = client.PurgeCache(ctx, &usersv1.PurgeCacheRequest{})
	wantCode(t, err, codes.InvalidArgument)

	_, err = client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "missing"})
	st := wantCode(t, err, codes.NotFound)
	if d := st.Details(); len(d) != 1 || d[0].(*errdetails.ErrorInfo).GetReason() != "USER_UNKNOWN" {
		t.Errorf("details = %v, want the ErrorInfo", d)
	}

	// A client-streaming method goes on its Connect route, whatever its
	// rules say, and reaches the service, which does not implement it.
	imp, err := client.ImportUsers(ctx)
	if err == nil {
		_, err = imp.CloseAndRecv()
	}
	if st := wantCode(t, err, codes.Unimplemented); !strings.Contains(st.Message(), "ImportUsers not implemented") {
		t.Errorf("client streaming: %q is not the service's answer", st.Message())
	}
}

func TestRESTMetadata(t *testing.T) {
	client := usersClient(t, usersServer(t))
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "r-9")
	var header, trailer metadata.MD
	if _, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "1"}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(header.Get("x-echo"), []string{"r-9"}) || !slices.Equal(trailer.Get("x-trailer"), []string{"done"}) {
		t.Errorf("header %v trailer %v; want x-echo r-9 and x-trailer done", header, trailer)
	}
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	u, err := client.GetUser(ctx, &usersv1.GetUserRequest{UserId: "deadline"})
	if err != nil || u.GetDisplayName() != "yes" {
		t.Errorf("deadline did not travel on a REST route: %v %v", u, err)
	}
}

func TestRESTServerStreaming(t *testing.T) {
	client := usersClient(t, usersServer(t))
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "w")
	stream, err := client.WatchUsers(ctx, &usersv1.WatchUsersRequest{UserIds: []string{"a", "b"}, MaxEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.GetUser().GetUserId())
	}
	if !slices.Equal(ids, []string{"a", "b", "a"}) {
		t.Errorf("events for %v, want a b a", ids)
	}
	if h, _ := stream.Header(); !slices.Equal(h.Get("x-echo"), []string{"w"}) {
		t.Errorf("header = %v", h)
	}
	if tr := stream.Trailer(); !slices.Equal(tr.Get("x-trailer"), []string{"done"}) {
		t.Errorf("trailer = %v", tr)
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

// do sends a raw request, as curl or a grpc-gateway client would, and
// returns the status, headers and body.
func do(t *testing.T, method, url, contentType, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
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
	return resp.StatusCode, resp.Header, string(b)
}

// gatewayError decodes a google.rpc.Status error body.
func gatewayError(t *testing.T, body string) (code int, message string) {
	t.Helper()
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q is not google.rpc.Status JSON: %v", body, err)
	}
	return e.Code, e.Message
}

// TestRESTQueryWire sends the query strings grpc-gateway accepts and checks
// what the handler decoded from them.
func TestRESTQueryWire(t *testing.T) {
	base := usersServer(t)
	for _, tc := range []struct {
		name, query string
		want        *usersv1.ListUsersRequest
	}{
		{"scalars", "page_size=5&page_token=a+b%26c&include_deleted=true&min_score=1.5",
			&usersv1.ListUsersRequest{PageSize: 5, PageToken: "a b&c", IncludeDeleted: true, MinScore: 1.5}},
		{"json names", "pageSize=5&includeDeleted=1&filter.emailDomain=x.org",
			&usersv1.ListUsersRequest{PageSize: 5, IncludeDeleted: true, Filter: &usersv1.Filter{EmailDomain: "x.org"}}},
		{"nested and enums by name or number", "filter.email_domain=x.org&filter.role=ROLE_ADMIN&roles=ROLE_READER&roles=2",
			&usersv1.ListUsersRequest{Filter: &usersv1.Filter{EmailDomain: "x.org", Role: usersv1.Role_ROLE_ADMIN}, Roles: []usersv1.Role{usersv1.Role_ROLE_READER, usersv1.Role_ROLE_WRITER}}},
		{"repeated strings", "user_ids=a&user_ids=b&user_ids=",
			&usersv1.ListUsersRequest{UserIds: []string{"a", "b", ""}}},
		{"well-known types", "created_after=2024-01-02T03:04:05.5Z&max_age=1h30m&read_mask=display_name,profile.bio&min_roles=0&name_prefix=",
			&usersv1.ListUsersRequest{
				CreatedAfter: &timestamppb.Timestamp{Seconds: 1704164645, Nanos: 5e8},
				MaxAge:       durationpb.New(90 * time.Minute),
				ReadMask:     &fieldmaskpb.FieldMask{Paths: []string{"display_name", "profile.bio"}},
				MinRoles:     wrapperspb.Int32(0),
				NamePrefix:   wrapperspb.String(""),
			}},
		{"bytes, standard and url-safe base64", "cursor=-_8%3D",
			&usersv1.ListUsersRequest{Cursor: []byte{0xfb, 0xff}}},
		{"optional set to its zero value", "team=",
			&usersv1.ListUsersRequest{Team: proto.String("")}},
		// grpc-gateway creates the messages on the way to an unknown field.
		{"unknown parameters are ignored", "nope=1&filter.nope=2&page_size=3",
			&usersv1.ListUsersRequest{PageSize: 3, Filter: &usersv1.Filter{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := do(t, "GET", base+"/v1/users?"+tc.query, "", "")
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var resp usersv1.ListUsersResponse
			if err := protojson.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatal(err)
			}
			conformance.CheckListEcho(t, &resp, tc.want)
		})
	}
	for _, query := range []string{"page_size=x", "page_size=1&page_size=2", "roles=ROLE_NOPE", "created_after=yesterday", "max_age=5", "filter=x", "user_ids[a]=b", "cursor=%%%"} {
		code, _, body := do(t, "GET", base+"/v1/users?"+query, "", "")
		if c, msg := gatewayError(t, body); code != http.StatusBadRequest || c != int(codes.InvalidArgument) || msg == "" {
			t.Errorf("?%s: status %d, %s; want 400 with InvalidArgument and a message", query, code, body)
		}
	}
}

func TestRESTPathWire(t *testing.T) {
	base := usersServer(t)
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/v1/users/a%2Fb", "", `"a/b"`},
		{"GET", "/v1/users/%C3%BC%20x", "", `"ü x"`},
		{"GET", "/v1/orgs/acme/users/ada", "", `"orgs/acme/users/ada"`},
		{"GET", "/v1/legacy/orgs/acme/users/ada", "", `"orgs/acme/users/ada"`},
		{"GET", "/v1/files/a/b/c.txt", "", `"a/b/c.txt"`},
		{"GET", "/v1/files/a%2Fb/c", "", `"a%2Fb/c"`},   // %2F stays encoded in a multi-segment variable
		{"GET", "/v1/files/", "", `"Y29udGVudCBvZiA="`}, // "**" matches nothing: path "" (the content says "content of ")
		{"POST", "/v1/users/7:undelete", `{"reason":"r","userId":"ignored"}`, `"7"`},
		{"PURGE", "/v1/users/ada/cache", "", `{}`},
		{"DELETE", "/v1/users/ada?force=true", "", `{}`},
		{"GET", "/v1/users/ada/profile", "", `"ada"`},
	} {
		code, _, body := do(t, tc.method, base+tc.path, "application/json", tc.body)
		if code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: status %d body %s, want 200 and %s", tc.method, tc.path, code, body, tc.want)
		}
	}
	// response_body: the body is the profile alone.
	_, _, body := do(t, "GET", base+"/v1/users/ada/profile", "", "")
	if body != `{"bio":"ada","location":"here"}` && body != `{"bio":"ada", "location":"here"}` {
		var p usersv1.Profile
		if err := protojson.Unmarshal([]byte(body), &p); err != nil || p.GetBio() != "ada" {
			t.Errorf("GetProfile body %s, want the profile alone", body)
		}
	}
	// body: "user" with a PATCH and no update_mask: the mask lists the
	// fields the body sets, as grpc-gateway derives it.
	code, _, body := do(t, "PATCH", base+"/v1/users/u1", "application/json", `{"email":"e","profile":{"bio":"b"},"roles":["ROLE_ADMIN"]}`)
	if code != http.StatusOK || !strings.Contains(body, `"displayName":"email,profile.bio,roles"`) {
		t.Errorf("PATCH: %d %s, want the mask email,profile.bio,roles", code, body)
	}
	code, _, body = do(t, "PATCH", base+"/v1/users/u1?update_mask=email", "application/json", `{"email":"e","profile":{"bio":"b"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"displayName":"email"`) {
		t.Errorf("PATCH with update_mask: %d %s", code, body)
	}
}

func TestHandlerErrors(t *testing.T) {
	base := usersServer(t, httptransport.WithReadMaxBytes(1024))
	type want struct {
		status int
		code   codes.Code
	}
	for _, tc := range []struct {
		name, method, path, contentType, body string
		header                                []string
		want                                  want
	}{
		// As grpc-gateway's default routing error handler answers.
		{"unknown route", "GET", "/v2/nothing", "", "", nil, want{404, codes.NotFound}},
		{"wrong verb", "PUT", "/v1/users/ada", "", "", nil, want{501, codes.Unimplemented}},
		{"malformed JSON", "POST", "/v1/users", "application/json", `{"displayName":`, nil, want{400, codes.InvalidArgument}},
		{"wrong JSON type", "POST", "/v1/users", "application/json", `{"displayName":5}`, nil, want{400, codes.InvalidArgument}},
		{"malformed proto", "POST", "/v1/users", "application/x-protobuf", "\xff\xff\xff", []string{"Accept", "application/json"}, want{400, codes.InvalidArgument}},
		{"body too large", "POST", "/v1/users", "application/json", `{"displayName":"` + strings.Repeat("x", 2000) + `"}`, nil, want{429, codes.ResourceExhausted}},
		{"panic", "GET", "/v1/users/panic", "", "", nil, want{500, codes.Internal}},
		{"bad Grpc-Timeout", "GET", "/v1/users/a", "", "", []string{"Grpc-Timeout", "soon"}, want{400, codes.InvalidArgument}},
		{"expired deadline", "GET", "/v1/users/deadline", "", "", []string{"Grpc-Timeout", "1n"}, want{200, codes.OK}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := do(t, tc.method, base+tc.path, tc.contentType, tc.body, tc.header...)
			if code != tc.want.status {
				t.Fatalf("status %d (%s), want %d", code, body, tc.want.status)
			}
			if tc.want.code == codes.OK {
				return
			}
			if c, msg := gatewayError(t, body); c != int(tc.want.code) || msg == "" {
				t.Errorf("body %s, want code %d and a message", body, tc.want.code)
			}
			if (code == 405 || code == 501) && hdr.Get("Allow") == "" {
				t.Errorf("%d without an Allow header", code)
			}
		})
	}
	// A wrong verb on a Connect route is answered as the Connect protocol
	// says: 405, an Allow header and no body (no error JSON).
	code, hdr, body := do(t, "GET", base+"/example.users.v1.UserService/CreateUser", "", "")
	if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" || body != "" {
		t.Errorf("wrong verb on a Connect route: %d, Allow %q, body %q; want 405, Allow POST, no body", code, hdr.Get("Allow"), body)
	}
	// The handler keeps serving after a panic.
	if code, _, body := do(t, "GET", base+"/v1/users/ok", "", ""); code != 200 {
		t.Errorf("after a panic: %d %s", code, body)
	}
}

func TestRESTStreamWire(t *testing.T) {
	base := usersServer(t)
	code, hdr, body := do(t, "GET", base+"/v1/users:watch?user_ids=a&max_events=2", "", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d content type %q", code, hdr.Get("Content-Type"))
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("lines %q, want 2", lines)
	}
	for _, l := range lines {
		var chunk struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal([]byte(l), &chunk); err != nil || len(chunk.Result) == 0 {
			t.Errorf("line %q is not {\"result\": ...}", l)
		}
	}
	_, _, body = do(t, "GET", base+"/v1/users:watch?user_ids=fail&max_events=2", "", "")
	lines = strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], `{"error":`) {
		t.Fatalf("lines %q, want a result then an error", lines)
	}
	var chunk struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &chunk); err != nil || chunk.Error.Code != int(codes.FailedPrecondition) {
		t.Errorf("error chunk %q, want code 9", lines[1])
	}
}

// TestRESTInvalidUTF8 sends bytes that are not UTF-8 in a path variable and
// in query values bound to string fields: the answer is 400 InvalidArgument,
// as on the Connect and gRPC routes, not a 500 from marshalling later.
func TestRESTInvalidUTF8(t *testing.T) {
	base := usersServer(t)
	for _, path := range []string{
		"/v1/files/%FF",
		"/v1/files/a/%C3%28/b",
		"/v1/users/%FF",
		"/v1/users/%FF:undelete",
		"/v1/users?pageToken=%FF",
		"/v1/users?userIds=ok&userIds=%FE",
		"/v1/users?readMask=a,%FF",
		"/v1/users?namePrefix=%FF",
	} {
		method := http.MethodGet
		if strings.HasSuffix(path, ":undelete") {
			method = http.MethodPost
		}
		req, _ := http.NewRequestWithContext(testContext(t), method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: HTTP %s %s; want 400", method, path, resp.Status, body)
		}
	}
}
