package generator_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/svcclient/svcclient/generator"
	"github.com/svcclient/svcclient/internal/plugintest"
)

// userProto declares a service whose one method carries rule as its
// google.api.http option, over messages with every kind of field a rule
// can name.
func userProto(rule string) string {
	return fmt.Sprintf(`syntax = "proto3";
package test.v1;
import "google/api/annotations.proto";
option go_package = "example.com/test/v1;testv1";

service Users {
  rpc GetUser(GetUserRequest) returns (User) {
    option (google.api.http) = {%s};
  }
}

message GetUserRequest {
  string user_id = 1;
  User user = 2;
  repeated string tags = 3;
}

message User {
  string user_id = 1;
  Profile profile = 2;
}

message Profile {
  string bio = 1;
}
`, rule)
}

func generate(t *testing.T, proto, parameter string) (map[string]string, error) {
	t.Helper()
	src := plugintest.Sources{
		ImportPaths: []string{"../third_party/googleapis"},
		Files:       map[string]string{"test/v1/users.proto": proto},
	}
	return plugintest.Generate(src, parameter, "test/v1/users.proto")
}

// TestBadHTTPRules checks that a rule that could not work at call time fails
// generation, and that the error names the file, service and method and
// says why.
func TestBadHTTPRules(t *testing.T) {
	cases := []struct {
		rule string
		why  string
	}{
		{`get: "v1/users/{user_id}"`, "must start with '/'"},
		{`get: "/v1/users/{user_id"`, "unclosed '{'"},
		{`get: "/v1/users/user_id}"`, "unbalanced '}'"},
		{`get: "/v1//users"`, "empty path segment"},
		{`get: "/v1/users/"`, "empty path segment"},
		{`get: "/v1/**/users"`, "'**' must be the last segment"},
		{`get: "/v1/{user_id={x}}"`, "variables may not nest"},
		{`get: "/v1/users/{user_id}:"`, "bad verb"},
		{`get: "/v1/{user-id}"`, "is not a field name"},
		{`get: "/v1/users/{usr_id}"`, `test.v1.GetUserRequest has no field "usr_id"`},
		{`get: "/v1/users/{user.profile}"`, "is a message; a path segment binds a scalar field"},
		{`get: "/v1/users/{user}"`, "is a message; a path segment binds a scalar field"},
		{`get: "/v1/users/{tags}"`, "is repeated"},
		{`get: "/v1/users/{user_id.x}"`, "is not a message"},
		{`get: "/v1/users/{user.nope}"`, `test.v1.User has no field "nope"`},
		{`get: "/v1/users/{user_id}/{user_id}"`, "bound twice"},
		{`post: "/v1/users" body: "usr"`, `body field "usr" does not exist in test.v1.GetUserRequest`},
		{`get: "/v1/users" body: "*"`, "a GET request has no body"},
		{`get: "/v1/users/{user_id}" response_body: "nope"`, `response_body field "nope" does not exist in test.v1.User`},
		// Literals the client would send otherwise than written, so that the
		// handler never matches them.
		{`get: "/v1/users?all"`, `'?' would not reach the server as written`},
		{`get: "/v1/users#top"`, `'#' would not reach the server as written`},
		{`get: "/v1/all users"`, `' ' would not reach the server as written`},
		{`get: "/v1/users!"`, `'!' would not reach the server as written`},
		{`get: "/v1/café"`, `would not reach the server as written`},
		{`get: "/v1/a%zz"`, "'%' must start a %XX escape"},
		{`get: "/v1/a%4"`, "'%' must start a %XX escape"},
		{`get: "/v1/{user_id=users/a?b}"`, `'?' would not reach the server as written`},
		{`get: "/v1/users/{user_id}:do it"`, `verb "do it": ' ' would not reach the server as written`},
		{`custom: {kind: "NOT A VERB" path: "/v1/users"}`, "is not an HTTP method name"},
		{`body: "*"`, "sets no pattern"},
		{`get: "/v1/users/{user_id}" additional_bindings {get: "/v1/u/{usr}"}`, `additional_bindings[0]: google.api.http get "/v1/u/{usr}"`},
		{`get: "/v1/users/{user_id}" additional_bindings {get: "/v1/u/{user_id}" additional_bindings {get: "/x"}}`, "may not nest"},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := generate(t, userProto(tc.rule), "")
			if err == nil {
				t.Fatal("generation succeeded; want an error")
			}
			for _, want := range []string{"test/v1/users.proto", "service test.v1.Users", "method GetUser", tc.why} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestGoodHTTPRules(t *testing.T) {
	for _, rule := range []string{
		`get: "/v1/users/{user_id}"`,
		`get: "/v1/users/{user.user_id}"`,
		`get: "/v1/users/{user.profile.bio}:read"`,
		`get: "/v1/{user_id=orgs/*/users/*}"`,
		`get: "/v1/{user_id=files/**}"`,
		`get: "/v1/a-b.c_d~e$f&g+h,i;j@k/%41%e9"`,
		`get: "/"`,
		`post: "/v1/users" body: "*"`,
		`patch: "/v1/users/{user.user_id}" body: "user"`,
		`delete: "/v1/users/{user_id}"`,
		`get: "/v1/users/{user_id}" response_body: "profile"`,
		`custom: {kind: "PURGE" path: "/v1/users/{user_id}"}`,
	} {
		if _, err := generate(t, userProto(rule), ""); err != nil {
			t.Errorf("%s: %v", rule, err)
		}
	}
}

func TestGoNameCollision(t *testing.T) {
	proto := `syntax = "proto3";
package test.v1;
option go_package = "example.com/test/v1;testv1";
service Users {
  rpc get_user(M) returns (M);
  rpc GetUser(M) returns (M);
}
message M {}
`
	_, err := generate(t, proto, "")
	if err == nil || !strings.Contains(err.Error(), "service test.v1.Users, method GetUser: its Go name GetUser is also the Go name of method get_user") {
		t.Fatalf("err = %v, want the collision reported with both methods", err)
	}
}

func TestOptions(t *testing.T) {
	proto := userProto(`get: "/v1/users/{user_id}"`)
	for _, tc := range []struct{ param, want string }{
		{"package_suffix=", `option package_suffix=""`},
		{"package_suffix=Svc", `option package_suffix="Svc"`},
		{"package_suffix=a-b", `option package_suffix="a-b"`},
		{"colour=blue", `unknown option "colour"`},
	} {
		_, err := generate(t, proto, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %s", tc.param, err, tc.want)
		}
	}
	files, err := generate(t, proto, "package_suffix=api")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["example.com/test/v1/testv1api/users_svcclient.pb.go"]; !ok {
		t.Errorf("package_suffix=api wrote %v", keys(files))
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestFeatures checks that the plugin declares proto3 optional and editions
// support to protoc, as protoc-gen-go does.
func TestFeatures(t *testing.T) {
	req, err := plugintest.Request(plugintest.Sources{ImportPaths: []string{"../golden/proto"}}, "", "editions/editions.proto")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := plugintest.Run(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatal(resp.GetError())
	}
	want := uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL | pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	if resp.GetSupportedFeatures() != want {
		t.Errorf("features = %b, want %b", resp.GetSupportedFeatures(), want)
	}
	if resp.GetMinimumEdition() != int32(descriptorpb.Edition_EDITION_PROTO2) || resp.GetMaximumEdition() < int32(descriptorpb.Edition_EDITION_2023) {
		t.Errorf("editions %d..%d, want PROTO2..2023 or later", resp.GetMinimumEdition(), resp.GetMaximumEdition())
	}
	if resp.GetMaximumEdition() != int32(generator.SupportedEditionsMaximum) {
		t.Errorf("maximum edition %d, want %d", resp.GetMaximumEdition(), generator.SupportedEditionsMaximum)
	}
}
