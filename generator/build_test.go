package generator_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/svcclient/svcclient/internal/plugintest"
)

// oddProtos are protos the plugin accepts although their names are odd:
// lowercase and underscored services, methods named like Go keywords or like
// the plumbing, methods named like standard methods that vet lets pass with
// our signatures, message packages whose names protogen must rename or that
// a parameter could shadow. GOPKG is replaced by the test's Go package root.
var oddProtos = map[string]string{
	"odd/lower/lower.proto": `syntax = "proto3";
package odd.lower;
option go_package = "GOPKG/lower";
service greeter {
  rpc say_hello(Req) returns (Resp);
  rpc get_user_by_id(Req) returns (stream Resp);
}
service Greeter_Say { rpc Hello_World(stream Req) returns (Resp); }
service _private { rpc _hidden(stream Req) returns (stream Resp); }
message Req {}
message Resp {}
`,
	"odd/keywords/keywords.proto": `syntax = "proto3";
package odd.keywords;
option go_package = "GOPKG/keywords;keywords";
service select {
  rpc func(Req) returns (Resp);
  rpc go(Req) returns (stream Resp);
  rpc type(stream Req) returns (stream Resp);
  rpc range(stream Req) returns (Resp);
  rpc return(Req) returns (Resp);
}
service interface { rpc map(Req) returns (Resp); }
message Req {}
message Resp {}
`,
	"odd/methods/methods.proto": `syntax = "proto3";
package odd.methods;
option go_package = "GOPKG/methods";
service Client {
  rpc String(Req) returns (Resp);
  rpc Error(Req) returns (Resp);
  rpc Close(Req) returns (Resp);
  rpc Invoke(Req) returns (Resp);
  rpc NewStream(Req) returns (stream Resp);
  rpc Conn(Req) returns (Resp);
  rpc Context(Req) returns (Resp);
  rpc Format(Req) returns (Resp);
  rpc Seek(Req) returns (Resp);
  rpc WriteTo(Req) returns (Resp);
  rpc ReadFrom(stream Req) returns (Resp);
  rpc Scan(Req) returns (stream Resp);
  rpc Is(Req) returns (Resp);
  rpc As(Req) returns (Resp);
  rpc Unwrap(Req) returns (Resp);
  rpc Flush(Req) returns (Resp);
}
service ClientServer { rpc Runtime(Req) returns (Resp); }
message Req {}
message Resp {}
`,
	// Messages in packages named like the packages generated code imports
	// (protogen renames one of each pair) and like a local that is never in
	// scope where a message type is printed.
	"odd/runtime/runtime.proto": `syntax = "proto3";
package odd.runtime;
option go_package = "GOPKG/runtime";
message Req { string x = 1; }
`,
	"odd/context/context.proto": `syntax = "proto3";
package odd.context;
option go_package = "GOPKG/context";
message Resp {}
`,
	"odd/out/out.proto": `syntax = "proto3";
package odd.out;
option go_package = "GOPKG/out";
message Msg {}
`,
	"odd/imports/imports.proto": `syntax = "proto3";
package odd.imports;
import "odd/runtime/runtime.proto";
import "odd/context/context.proto";
import "odd/out/out.proto";
import "google/api/annotations.proto";
option go_package = "GOPKG/imports";
service status {
  rpc codes(odd.runtime.Req) returns (odd.context.Resp) {
    option (google.api.http) = {get: "/v1/{x=files/**}:codes"};
  }
  rpc proto(odd.out.Msg) returns (odd.out.Msg);
  rpc grpc(stream odd.out.Msg) returns (stream odd.runtime.Req);
}
`,
}

// TestOddProtosBuildAndVet generates oddProtos with protoc-gen-go and this
// plugin into a temporary package tree inside this module, then runs go
// build and go vet on it: accepted protos must give code that compiles and
// vets. It builds protoc-gen-go from the module cache, and takes a few
// seconds.
func TestOddProtosBuildAndVet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds generated code with the go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	goCmd := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	bin := filepath.Join(t.TempDir(), "protoc-gen-go")
	if out, err := goCmd("build", "-o", bin, "google.golang.org/protobuf/cmd/protoc-gen-go"); err != nil {
		t.Fatalf("building protoc-gen-go: %v\n%s", err, out)
	}

	// The tree lives under testdata, which ./... patterns skip, so a
	// concurrent go build of the module never sees it.
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "oddbuild")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // only if nothing else is in it
	})
	goPkg := "github.com/svcclient/svcclient/generator/" + filepath.ToSlash(dir)

	src := plugintest.Sources{ImportPaths: []string{"../third_party/googleapis"}, Files: map[string]string{}}
	var names []string
	for name, content := range oddProtos {
		src.Files[name] = strings.ReplaceAll(content, "GOPKG", goPkg)
		names = append(names, name)
	}
	req, err := plugintest.Request(src, "module="+goPkg, names...)
	if err != nil {
		t.Fatal(err)
	}

	ours, err := plugintest.Run(req)
	if err != nil {
		t.Fatal(err)
	}
	theirs := runPlugin(t, ctx, bin, req)
	for _, resp := range []*pluginpb.CodeGeneratorResponse{ours, theirs} {
		if resp.Error != nil {
			t.Fatalf("generation failed: %s", resp.GetError())
		}
		for _, f := range resp.File {
			path := filepath.Join(dir, filepath.FromSlash(f.GetName()))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(ours.File) != 4 {
		t.Errorf("the plugin wrote %d files, want 4 (one per file with services)", len(ours.File))
	}

	pattern := "./" + filepath.ToSlash(dir) + "/..."
	if out, err := goCmd("build", pattern); err != nil {
		t.Fatalf("go build of the generated code: %v\n%s", err, out)
	}
	if out, err := goCmd("vet", pattern); err != nil {
		t.Fatalf("go vet of the generated code: %v\n%s", err, out)
	}
}

// runPlugin runs a plugin binary on req, as protoc would.
func runPlugin(t *testing.T, ctx context.Context, bin string, req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	resp := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(out, resp); err != nil {
		t.Fatal(err)
	}
	return resp
}
