package conformance_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// runnerTimeout bounds each run of the suite; a run takes seconds, so
// hitting it means a hang.
const runnerTimeout = 4 * time.Minute

// TestConnectConformance runs the Connect conformance suite against
// svcclient's HTTP transport: the runner's reference client against our
// handler (server mode), and our client against its reference server
// (client mode). Cases listed in the mode's known-failing file must fail;
// any other failure fails the test.
func TestConnectConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite builds three programs; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "connectrpc.com/conformance/cmd/connectconformance")
	build(t, bin, "./server")
	build(t, bin, "./client")
	runner := filepath.Join(bin, "connectconformance")

	t.Run("server", func(t *testing.T) {
		run(t, runner, "--mode", "server", "--conf", "server-config.yaml",
			"--known-failing", "@server-known-failing.txt", "--known-flaky", "@server-known-flaky.txt", "--parallel", "2", "--max-servers", "2",
			"--", filepath.Join(bin, "server"))
	})
	t.Run("client", func(t *testing.T) {
		run(t, runner, "--mode", "client", "--conf", "client-config.yaml",
			"--known-failing", "@client-known-failing.txt", "--known-flaky", "@client-known-flaky.txt", "--max-servers", "2",
			"--", filepath.Join(bin, "client"))
	})
}

// build compiles pkg into dir with this module's pinned versions.
func build(t *testing.T, dir, pkg string) {
	t.Helper()
	out, err := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

var summary = regexp.MustCompile(`(?m)^Total cases: \d+\n\d+ passed, \d+ failed.*(\n\(Another \d+ failed as expected.*\))?`)

// run runs the suite and fails the test if the runner reports an
// unexpected failure or cannot run; it logs the runner's counts.
func run(t *testing.T, runner string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runnerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runner, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	counts := summary.Find(out.Bytes())
	if err != nil || counts == nil {
		t.Fatalf("connectconformance %v: %v\n%s", args, err, out.Bytes())
	}
	t.Logf("%s", counts)
}
