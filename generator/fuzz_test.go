package generator_test

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/svcclient/svcclient/generator"
	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/internal/plugintest"
)

// FuzzHTTPRule runs random google.api.http rules through the plugin: it
// never panics, a rule it refuses is reported with the file, service and
// method, the generated code of a rule it accepts parses as Go and carries
// the template, and an accepted template prints back from its parsed form
// as written (up to the default "=*" of a variable).
func FuzzHTTPRule(f *testing.F) {
	seeds := []struct {
		kind                           uint8
		path, body, responseBody, verb string
	}{
		{0, "/v1/users/{user_id}", "", "", ""},
		{0, "/v1/users/{user.profile.bio}:read", "", "profile", ""},
		{0, "/v1/{user_id=orgs/*/users/*}", "", "", ""},
		{0, "/v1/{user_id=files/**}:get", "", "", ""},
		{0, "/", "", "", ""},
		{1, "/v1/users/{user_id=*}", "*", "", ""},
		{2, "/v1/users", "user", "user_id", ""},
		{3, "/v1/users/{user_id}/{user_id}", "", "", ""},
		{4, "/v1/**/x", "*", "", ""},
		{5, "/v1/users/{user_id}:undelete", "", "", "PURGE"},
		{5, "/v1/x", "", "", "NOT A VERB"},
		{0, "/v1/{user_id={x}}", "", "", ""},
		{0, "/v1/users?all", "", "", ""},
		{0, "/v1/%41%zz", "", "", ""},
		{0, "/v1/{user_id=}", "\"", "\\", ""},
		{0, "v1", "", "", ""},
		{0, "/:x", "", "", ""},
		{0, "/{user_id}}{", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.path, s.body, s.responseBody, s.verb)
	}
	base, err := plugintest.Request(plugintest.Sources{
		ImportPaths: []string{"../third_party/googleapis"},
		Files:       map[string]string{"test/v1/users.proto": userProto(`get: "/v1/users/{user_id}"`)},
	}, "", "test/v1/users.proto")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind uint8, path, body, responseBody, custom string) {
		rule := &annotations.HttpRule{Body: body, ResponseBody: responseBody}
		switch kind % 6 {
		case 0:
			rule.Pattern = &annotations.HttpRule_Get{Get: path}
		case 1:
			rule.Pattern = &annotations.HttpRule_Put{Put: path}
		case 2:
			rule.Pattern = &annotations.HttpRule_Post{Post: path}
		case 3:
			rule.Pattern = &annotations.HttpRule_Delete{Delete: path}
		case 4:
			rule.Pattern = &annotations.HttpRule_Patch{Patch: path}
		case 5:
			rule.Pattern = &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: custom, Path: path}}
		}
		req := proto.CloneOf(base)
		file := req.ProtoFile[len(req.ProtoFile)-1]
		if file.GetName() != "test/v1/users.proto" {
			t.Fatalf("last file is %s", file.GetName())
		}
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, rule)
		file.Service[0].Method[0].Options = opts

		resp, err := plugintest.Run(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Error != nil {
			if want := "test/v1/users.proto: service test.v1.Users, method GetUser: "; !strings.HasPrefix(resp.GetError(), want) {
				t.Fatalf("error %q does not start with %q", resp.GetError(), want)
			}
			return
		}
		if len(resp.File) != 1 {
			t.Fatalf("%d files generated, want 1", len(resp.File))
		}
		code := resp.File[0].GetContent()
		if _, err := parser.ParseFile(token.NewFileSet(), "users_svcclient.pb.go", code, parser.SkipObjectResolution); err != nil {
			t.Fatalf("rule %v: generated code does not parse: %v", rule, err)
		}
		// The runtime reads the rule from the descriptor the generated code
		// hands it: it must accept what the plugin accepted, as written.
		files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: req.ProtoFile})
		if err != nil {
			t.Fatal(err)
		}
		d, err := files.FindDescriptorByName("test.v1.Users.GetUser")
		if err != nil {
			t.Fatal(err)
		}
		rules, err := httprule.ForMethod(d.(protoreflect.MethodDescriptor))
		if err != nil || len(rules) != 1 || rules[0].Pattern != path {
			t.Errorf("the runtime reads the accepted rule %q as %v, %v", path, rules, err)
		}
		printed, err := generator.FormatTemplate(path)
		if err != nil {
			t.Fatalf("accepted %q, but it does not parse on its own: %v", path, err)
		}
		if want := strings.ReplaceAll(path, "=*}", "}"); printed != want {
			t.Errorf("template %q prints back as %q, want %q", path, printed, want)
		}
		again, err := generator.FormatTemplate(printed)
		if err != nil || again != printed {
			t.Errorf("printed template %q reparses as %q, %v", printed, again, err)
		}
	})
}
