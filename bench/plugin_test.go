package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/svcclient/svcclient/internal/plugintest"
)

// largeProto declares services × methods unary methods, with an HTTP rule on
// every other method so the generator's template parsing is measured too.
func largeProto(services, methods int) string {
	var b strings.Builder
	b.WriteString(`syntax = "proto3";
package large.v1;
import "google/api/annotations.proto";
option go_package = "example.com/large/v1;largev1";
message Request { string id = 1; string name = 2; }
message Response { string id = 1; bytes data = 2; }
`)
	for s := 0; s < services; s++ {
		fmt.Fprintf(&b, "// Service%d is service number %d.\nservice Service%d {\n", s, s, s)
		for m := 0; m < methods; m++ {
			fmt.Fprintf(&b, "  // Method%d is method number %d.\n  rpc Method%d(Request) returns (Response)", m, m, m)
			if m%2 == 0 {
				fmt.Fprintf(&b, " {\n    option (google.api.http) = {get: \"/v1/s%d/m%d/{id}\"};\n  }\n", s, m)
			} else {
				b.WriteString(";\n")
			}
		}
		b.WriteString("}\n")
	}
	return b.String()
}

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// plugins builds both plugins once per test binary.
func plugins(b testing.TB) string {
	pluginsOnce.Do(func() {
		pluginsDir, pluginsErr = os.MkdirTemp("", "svcclient-bench-plugins")
		if pluginsErr != nil {
			return
		}
		for _, cmd := range [][]string{
			{"go", "build", "-o", pluginsDir + "/", "github.com/svcclient/svcclient/cmd/protoc-gen-svcclient"},
			{"go", "build", "-C", "../tools", "-o", pluginsDir + "/", "google.golang.org/grpc/cmd/protoc-gen-go-grpc"},
		} {
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				pluginsErr = fmt.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
				return
			}
		}
	})
	if pluginsErr != nil {
		b.Fatal(pluginsErr)
	}
	return pluginsDir
}

// BenchmarkPlugin runs each plugin as protoc runs it (a process reading a
// CodeGeneratorRequest on stdin) on 500 services of 10 methods. Both pay the
// same process start, so the ratio is the generators' own.
func BenchmarkPlugin(b *testing.B) {
	req, err := plugintest.Request(plugintest.Sources{
		ImportPaths: []string{"../third_party/googleapis"},
		Files:       map[string]string{"large/v1/large.proto": largeProto(500, 10)},
	}, "", "large/v1/large.proto")
	if err != nil {
		b.Fatal(err)
	}
	in, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	dir := plugins(b)
	for _, name := range []string{"protoc-gen-svcclient", "protoc-gen-go-grpc"} {
		b.Run("plugin="+name, func(b *testing.B) {
			var lines int
			for b.Loop() {
				cmd := exec.Command(filepath.Join(dir, name))
				cmd.Stdin = bytes.NewReader(in)
				out, err := cmd.Output()
				if err != nil {
					b.Fatal(err)
				}
				resp := new(pluginpb.CodeGeneratorResponse)
				if err := proto.Unmarshal(out, resp); err != nil {
					b.Fatal(err)
				}
				if resp.Error != nil || len(resp.File) != 1 {
					b.Fatalf("error %q, %d files", resp.GetError(), len(resp.File))
				}
				lines = strings.Count(resp.File[0].GetContent(), "\n")
			}
			b.ReportMetric(float64(lines), "lines")
		})
	}
}

// TestPluginBinarySize keeps protoc-gen-svcclient within 20% of
// protoc-gen-go-grpc's size: the plugin links protogen and the rule parser,
// not the runtime or grpc-go (generator's TestPluginLinksNoRuntime).
func TestPluginBinarySize(t *testing.T) {
	dir := plugins(t)
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	ours, theirs := size("protoc-gen-svcclient"), size("protoc-gen-go-grpc")
	ratio := float64(ours) / float64(theirs)
	t.Logf("protoc-gen-svcclient %d bytes, protoc-gen-go-grpc %d bytes: %.2fx", ours, theirs, ratio)
	if ratio > 1.2 {
		t.Errorf("protoc-gen-svcclient is %.2fx protoc-gen-go-grpc's size, more than 1.2x", ratio)
	}
}
