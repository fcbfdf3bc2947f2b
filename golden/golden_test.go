package golden_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/svcclient/svcclient/internal/plugintest"
)

var update = flag.Bool("update", false, "rewrite the golden files with the generator's current output")

const module = "module=github.com/svcclient/svcclient"

var (
	goldenProtos  = plugintest.Sources{ImportPaths: []string{"proto", "../third_party/googleapis"}}
	exampleProtos = plugintest.Sources{ImportPaths: []string{"../example/proto", "../third_party/googleapis"}}
)

// TestGolden generates each case in-process from its .proto sources and
// compares every generated file with the one checked in under root.
func TestGolden(t *testing.T) {
	cases := []struct {
		name  string
		src   plugintest.Sources
		files []string
		param string
		root  string   // the directory the generated names are relative to
		want  []string // the files the plugin must write, nothing else
	}{
		{
			name:  "unary",
			src:   goldenProtos,
			files: []string{"unary/unary.proto"},
			param: module,
			root:  "..",
			want:  []string{"golden/gen/unary/unarysvc/unary_svcclient.pb.go"},
		},
		{
			name:  "every streaming kind and idempotency level",
			src:   goldenProtos,
			files: []string{"streaming/streaming.proto"},
			param: module,
			root:  "..",
			want:  []string{"golden/gen/streaming/streamingsvc/streaming_svcclient.pb.go"},
		},
		{
			name:  "edition 2023",
			src:   goldenProtos,
			files: []string{"editions/editions.proto"},
			param: module,
			root:  "..",
			want:  []string{"golden/gen/editions/editionssvc/editions_svcclient.pb.go"},
		},
		{
			name:  "comments and deprecation",
			src:   goldenProtos,
			files: []string{"comments/comments.proto"},
			param: module,
			root:  "..",
			want:  []string{"golden/gen/comments/commentssvc/comments_svcclient.pb.go"},
		},
		{
			name:  "name clashes and two services",
			src:   goldenProtos,
			files: []string{"clashes/clashes.proto"},
			param: module,
			root:  "..",
			want:  []string{"golden/gen/clashes/clashessvc/clashes_svcclient.pb.go"},
		},
		{
			name:  "no services, no file",
			src:   goldenProtos,
			files: []string{"noservice/noservice.proto"},
			param: module,
			want:  nil,
		},
		{
			name:  "paths=source_relative with an M mapping",
			src:   goldenProtos,
			files: []string{"unary/unary.proto"},
			param: "paths=source_relative,Munary/unary.proto=example.com/custom/echopb;echopb",
			root:  "testdata/mappings",
			want:  []string{"unary/echopbsvc/unary_svcclient.pb.go"},
		},
		{
			name:  "import paths with an M mapping",
			src:   goldenProtos,
			files: []string{"unary/unary.proto"},
			param: "Munary/unary.proto=example.com/custom/echopb",
			root:  "testdata/mappings",
			want:  []string{"example.com/custom/echopb/unarysvc/unary_svcclient.pb.go"},
		},
		{
			name:  "package_suffix",
			src:   goldenProtos,
			files: []string{"unary/unary.proto"},
			param: module + ",package_suffix=rpc",
			root:  "testdata/package_suffix",
			want:  []string{"golden/gen/unary/unaryrpc/unary_svcclient.pb.go"},
		},
		{
			name:  "example/gen is what the generator produces now",
			src:   exampleProtos,
			files: []string{"helloworld/helloworld.proto", "streaming/v1/streaming.proto", "users/v1/users.proto"},
			param: module,
			root:  "..",
			want: []string{
				"example/gen/helloworld/helloworldsvc/helloworld_svcclient.pb.go",
				"example/gen/streaming/v1/streamingv1svc/streaming_svcclient.pb.go",
				"example/gen/users/v1/usersv1svc/users_svcclient.pb.go",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := plugintest.Generate(tc.src, tc.param, tc.files...)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name := range got {
				names = append(names, name)
			}
			slices.Sort(names)
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Fatalf("generated files (-want +got):\n%s", diff)
			}
			for _, name := range names {
				path := filepath.Join(tc.root, filepath.FromSlash(name))
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got[name]), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./golden -update to write it)", err)
				}
				if diff := cmp.Diff(string(want), got[name]); diff != "" {
					t.Errorf("%s is stale (-want +got); run go test ./golden -update, then scripts/generate.sh:\n%s", path, diff)
				}
			}
		})
	}
}
