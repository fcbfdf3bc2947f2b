package generator_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/svcclient/svcclient/generator"
	"github.com/svcclient/svcclient/runtime"
)

// TestPluginLinksNoRuntime keeps the plugin small: it links neither the
// runtime nor grpc-go (the runtime's version is a literal, kept equal by
// TestVersionMatchesRuntime), only protogen, the annotation types and the
// rule parser the HTTP transport shares.
func TestPluginLinksNoRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("go list is slow under -short")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/svcclient/svcclient/cmd/protoc-gen-svcclient").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/svcclient/svcclient/runtime") || strings.HasPrefix(d, "google.golang.org/grpc") {
			t.Errorf("the plugin links %s", d)
		}
	}
	t.Logf("the plugin links %d packages", len(deps))
}

// TestVersionMatchesRuntime: the generator prints the version of the
// runtime its code needs.
func TestVersionMatchesRuntime(t *testing.T) {
	if generator.Version != runtime.Version {
		t.Errorf("generator.Version = %s, runtime.Version = %s", generator.Version, runtime.Version)
	}
}
