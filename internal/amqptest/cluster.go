package amqptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// RequireClusterEnv names the variable that turns a machine unable to run
// a RabbitMQ cluster from a skip into a failure; CI sets it so that the
// cluster tests cannot pass by skipping.
const RequireClusterEnv = "SVCCLIENT_REQUIRE_AMQP_CLUSTER"

// RabbitMQBinEnv names the variable that points at the directory holding
// the rabbitmq-server and rabbitmqctl scripts, when they are not in
// /usr/lib/rabbitmq/bin (Debian and RPM packages) or on PATH.
const RabbitMQBinEnv = "SVCCLIENT_RABBITMQ_BIN"

// Bounds of the waits. Measured on a 2-core machine busy with other
// builds (load average 8-11), a 3-node cluster starts in 19-34 s (nodes
// boot in parallel in 10-13 s, then two joins take about 4 s each), a
// graceful stop takes about 1 s and a restart 7-18 s. With a -race test
// run and a full rebuild on the same two cores, each join took 18 s and
// the start passed 60 s. The bounds leave room for a loaded CI runner
// without letting a broken setup hang a test; clusterStartLock keeps two
// test binaries from starting clusters at the same time.
const (
	clusterStartTimeout = 150 * time.Second
	nodeStartTimeout    = 90 * time.Second
	nodeStopTimeout     = 30 * time.Second
	ctlTimeout          = 30 * time.Second
)

// Cluster is a RabbitMQ cluster of nodes that the test started for itself,
// beside any shared broker, and stops when it ends.
//
// The nodes run as the current user, not as the rabbitmq user: each
// cluster has an Erlang cookie of its own in a HOME of its own, which both
// the nodes and rabbitmqctl read. That needs no su, no access to
// /var/lib/rabbitmq/.erlang.cookie and no root, so it works the same for a
// developer and in CI, and the test owns the node processes, so that it
// can signal and reap them. The shared broker's environment file
// (/etc/rabbitmq/rabbitmq-env.conf) and config are replaced by the
// cluster's own, so nothing of it leaks into the nodes.
//
// Every node listens only on 127.0.0.1, for AMQP and for Erlang
// distribution, and has the user guest/guest, which RabbitMQ accepts from
// loopback.
type Cluster struct {
	tb     testing.TB
	bin    string // directory of rabbitmq-server and rabbitmqctl
	dir    string
	home   string // HOME of nodes and rabbitmqctl, holding the cookie
	envCfg string // empty rabbitmq-env.conf
	nodes  []*clusterNode
}

// clusterNode is one node of a Cluster.
type clusterNode struct {
	name     string // e.g. svcc-1234-1-2@localhost
	amqpPort int
	distPort int
	dir      string
	stdout   string // file receiving the node's stdout and stderr

	mu   sync.Mutex
	proc *nodeProcess // nil while stopped
}

// nodeProcess is a running beam process of a node.
type nodeProcess struct {
	cmd *exec.Cmd
	// stdin is held open while the node should run: the node runs its
	// Erlang shell on it (RABBITMQ_ALLOW_INPUT), and halts when it reads
	// end of file. So a test binary that dies without running its
	// cleanups (a timeout panic, a SIGKILL) still takes its nodes with it.
	stdin io.WriteCloser
	done  chan struct{} // closed when the process has exited
	err   error         // the process's exit, once done is closed
}

var clusterSeq atomic.Uint64

// StartCluster starts a RabbitMQ cluster of n nodes of the installed
// rabbitmq-server, each with its own node name, ports and data, joins nodes
// 1..n-1 to node 0 with rabbitmqctl join_cluster, and waits until all run.
// The nodes are stopped and their data deleted when the test ends.
//
// It skips the test when testing.Short() is set, or when the machine
// cannot run RabbitMQ nodes (saying how to enable them); with
// SVCCLIENT_REQUIRE_AMQP_CLUSTER=1 the latter fails the test instead.
// Node indexes in the methods are 0-based.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("RabbitMQ cluster tests are slow; they run without -short")
	}
	if n < 1 {
		tb.Fatalf("StartCluster: n = %d, want at least 1", n)
	}
	bin, err := findRabbitMQ()
	if err != nil {
		msg := fmt.Sprintf("cannot run a RabbitMQ cluster: %v; install rabbitmq-server "+
			"(`apt-get install rabbitmq-server`) or set %s to the directory of its rabbitmq-server script",
			err, RabbitMQBinEnv)
		if os.Getenv(RequireClusterEnv) == "1" {
			tb.Fatalf("%s; %s=1 requires it", msg, RequireClusterEnv)
		}
		tb.Skip(msg)
	}

	c := &Cluster{tb: tb, bin: bin, dir: tb.TempDir()}
	c.home = filepath.Join(c.dir, "home")
	c.envCfg = filepath.Join(c.dir, "rabbitmq-env.conf")
	if err := c.writeShared(); err != nil {
		tb.Fatalf("StartCluster: %v", err)
	}
	seq := clusterSeq.Add(1)
	ports, err := freePorts(2 * n)
	if err != nil {
		tb.Fatalf("StartCluster: %v", err)
	}
	for i := range n {
		node := &clusterNode{
			name:     fmt.Sprintf("svcc-%d-%d-%d@localhost", os.Getpid(), seq, i),
			amqpPort: ports[2*i],
			distPort: ports[2*i+1],
			dir:      filepath.Join(c.dir, fmt.Sprintf("node%d", i)),
		}
		node.stdout = filepath.Join(node.dir, "stdout.log")
		if err := c.writeNodeFiles(node); err != nil {
			tb.Fatalf("StartCluster: %v", err)
		}
		c.nodes = append(c.nodes, node)
	}
	// Registered after TempDir, so it runs before the directory is removed.
	tb.Cleanup(c.stopAll)

	waited := time.Now()
	unlock := clusterStartLock(tb)
	defer unlock()
	if d := time.Since(waited); d > time.Second {
		tb.Logf("StartCluster: waited %v for another test's cluster to start", d.Round(time.Millisecond))
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	for _, node := range c.nodes {
		if err := c.spawn(node); err != nil {
			tb.Fatalf("StartCluster: %v", err)
		}
	}
	for i := range c.nodes {
		if err := c.waitBooted(ctx, i); err != nil {
			c.fail("StartCluster: node %d did not start within %v: %v", i, clusterStartTimeout, err)
		}
	}
	booted := time.Since(start)
	// Joined one at a time: concurrent joins race in Mnesia's schema merge.
	for i := 1; i < n; i++ {
		for _, step := range [][]string{{"stop_app"}, {"join_cluster", c.nodes[0].name}, {"start_app"}} {
			if out, err := c.ctl(ctx, i, step...); err != nil {
				c.fail("StartCluster: rabbitmqctl %s on node %d: %v\n%s", step[0], i, err, out)
			}
		}
	}
	if err := c.waitAllRunning(ctx); err != nil {
		c.fail("StartCluster: cluster of %d did not form within %v: %v", n, clusterStartTimeout, err)
	}
	tb.Logf("RabbitMQ cluster of %d nodes started in %v (nodes booted in %v)",
		n, time.Since(start).Round(time.Millisecond), booted.Round(time.Millisecond))
	return c
}

// clusterStartLock takes a lock shared by every test binary on the
// machine, and returns its release. go test runs packages in parallel:
// two clusters booting at once on two cores each take more than twice as
// long, as Erlang nodes booting and joining are CPU-bound, so cluster
// starts take turns. The lock is a flock on a file in the temporary
// directory, so a test binary that dies releases it with its descriptor.
func clusterStartLock(tb testing.TB) (unlock func()) {
	tb.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "svcclient-cluster-start.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		tb.Fatalf("StartCluster: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("StartCluster: locking %s: %v", f.Name(), err)
	}
	return func() { f.Close() } // closing the descriptor releases the lock
}

// findRabbitMQ returns the directory of the rabbitmq-server and rabbitmqctl
// scripts to run directly. Debian's /usr/sbin/rabbitmq-server is a wrapper
// that switches to the rabbitmq user and redirects the output, so the real
// scripts in /usr/lib/rabbitmq/bin come first.
func findRabbitMQ() (string, error) {
	if _, err := exec.LookPath("erl"); err != nil {
		return "", errors.New("erl (Erlang) is not on PATH")
	}
	candidates := []string{os.Getenv(RabbitMQBinEnv), "/usr/lib/rabbitmq/bin"}
	if p, err := exec.LookPath("rabbitmq-server"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if isExecutable(filepath.Join(dir, "rabbitmq-server")) && isExecutable(filepath.Join(dir, "rabbitmqctl")) {
			return dir, nil
		}
	}
	return "", errors.New("no rabbitmq-server and rabbitmqctl found")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// writeShared writes what all nodes share: the cookie, an empty plugins
// file (no management plugin: nodes start faster) and an empty environment
// file, so that /etc/rabbitmq/rabbitmq-env.conf (which names the shared
// node) is not read.
func (c *Cluster) writeShared() error {
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		return err
	}
	cookie := make([]byte, 20)
	for i := range cookie {
		cookie[i] = 'A' + randByte()%26
	}
	if err := os.WriteFile(filepath.Join(c.home, ".erlang.cookie"), cookie, 0o400); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(c.envCfg, nil, 0o644)
}

func randByte() byte {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return b[0]
}

func (c *Cluster) writeNodeFiles(node *clusterNode) error {
	if err := os.MkdirAll(node.dir, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf("listeners.tcp.1 = 127.0.0.1:%d\n", node.amqpPort)
	return os.WriteFile(filepath.Join(node.dir, "rabbitmq.conf"), []byte(conf), 0o644)
}

// freePorts returns n distinct TCP ports that are free on 127.0.0.1 now.
// It avoids 35672-35682, where rabbitmqctl of the shared broker (dist port
// 25672) listens while it runs.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		p := ln.Addr().(*net.TCPAddr).Port
		if p >= 35672 && p <= 35682 {
			continue
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// env is the environment of node processes and of rabbitmqctl: the test's
// own, without any RabbitMQ or Erlang settings, plus the cluster's.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RABBITMQ_") || strings.HasPrefix(kv, "ERL_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+c.home,
		"RABBITMQ_CONF_ENV_FILE="+c.envCfg,
		// The shared epmd (if any) listens on loopback only; one the
		// node starts itself does the same.
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
}

func (c *Cluster) nodeEnv(node *clusterNode) []string {
	return append(c.env(),
		"RABBITMQ_NODENAME="+node.name,
		"RABBITMQ_DIST_PORT="+strconv.Itoa(node.distPort),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(node.dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(node.dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(c.dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(node.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(node.dir, "log"),
		"RABBITMQ_FEATURE_FLAGS_FILE="+filepath.Join(node.dir, "feature_flags"),
		"RABBITMQ_PID_FILE="+filepath.Join(node.dir, "rabbitmq.pid"),
		// Distribution on loopback only, as the shared broker does.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		// With input allowed, the script execs the Erlang VM (so the
		// process the test starts is the node) and the node halts when
		// its stdin closes; see nodeProcess.stdin.
		"RABBITMQ_ALLOW_INPUT=true",
	)
}

// spawn starts node's beam process.
func (c *Cluster) spawn(node *clusterNode) error {
	out, err := os.OpenFile(node.stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(filepath.Join(c.bin, "rabbitmq-server"))
	cmd.Dir = node.dir
	cmd.Env = c.nodeEnv(node)
	cmd.Stdout = out
	cmd.Stderr = out
	// A process group of its own, so that a kill reaches the helpers the
	// VM starts (erl_child_setup); Pdeathsig kills the node if the test
	// binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting node %s: %w", node.name, err)
	}
	p := &nodeProcess{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	node.mu.Lock()
	node.proc = p
	node.mu.Unlock()
	return nil
}

func (node *clusterNode) process() *nodeProcess {
	node.mu.Lock()
	defer node.mu.Unlock()
	return node.proc
}

// waitBooted waits until node i accepts AMQP connections, which it does
// once its boot has finished, or its process exits.
func (c *Cluster) waitBooted(ctx context.Context, i int) error {
	node := c.nodes[i]
	p := node.process()
	if p == nil {
		return errors.New("not started")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(node.amqpPort))
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("node process exited: %v", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// clusterStatus is the part of `rabbitmqctl cluster_status --formatter
// json` the harness reads.
type clusterStatus struct {
	RunningNodes []string `json:"running_nodes"`
}

// waitAllRunning waits until every node of the cluster is a running member
// of it, asking each node that should run.
func (c *Cluster) waitAllRunning(ctx context.Context) error {
	var last string
	for {
		ok := true
		for i, node := range c.nodes {
			if node.process() == nil {
				continue
			}
			st, err := c.status(ctx, i)
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			if len(st.RunningNodes) != len(c.nodes) {
				ok, last = false, fmt.Sprintf("node %d sees running nodes %v", i, st.RunningNodes)
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last: %s", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) status(ctx context.Context, i int) (clusterStatus, error) {
	var st clusterStatus
	out, err := c.ctl(ctx, i, "cluster_status", "--formatter", "json")
	if err != nil {
		return st, fmt.Errorf("cluster_status on node %d: %v: %s", i, err, strings.TrimSpace(out))
	}
	if err := json.Unmarshal([]byte(jsonPart(out)), &st); err != nil {
		return st, fmt.Errorf("cluster_status on node %d: %v: %s", i, err, out)
	}
	return st, nil
}

// jsonPart drops anything rabbitmqctl prints before its JSON document
// (warnings, "Cluster status of node ...").
func jsonPart(out string) string {
	if i := strings.IndexAny(out, "{["); i >= 0 {
		return out[i:]
	}
	return out
}

// ctl runs rabbitmqctl against node i.
func (c *Cluster) ctl(ctx context.Context, i int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "rabbitmqctl"),
		append([]string{"-n", c.nodes[i].name, "-q"}, args...)...)
	cmd.Env = c.env()
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// Ctl runs rabbitmqctl with args against node i and returns its output
// (stdout and stderr). It waits at most 30 s.
func (c *Cluster) Ctl(i int, args ...string) (string, error) {
	c.tb.Helper()
	return c.ctl(context.Background(), i, args...)
}

// URLs returns the AMQP URL of each node, guest/guest on 127.0.0.1, vhost
// "/".
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, node := range c.nodes {
		urls[i] = fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", node.amqpPort)
	}
	return urls
}

// NodeName returns the Erlang node name of node i, as rabbitmqctl and
// RabbitMQ's own reports (queue leaders, cluster members) name it.
func (c *Cluster) NodeName(i int) string { return c.nodes[i].name }

// StopNode stops node i gracefully (SIGTERM, which RabbitMQ handles as
// `rabbitmqctl stop`) and waits until its process has exited.
func (c *Cluster) StopNode(i int) {
	c.tb.Helper()
	if err := c.stop(i, syscall.SIGTERM, nodeStopTimeout); err != nil {
		c.fail("StopNode(%d): %v", i, err)
	}
}

// KillNode kills node i's Erlang VM with SIGKILL, as a crash or the OOM
// killer would, and waits until it is gone.
func (c *Cluster) KillNode(i int) {
	c.tb.Helper()
	if err := c.stop(i, syscall.SIGKILL, nodeStopTimeout); err != nil {
		c.fail("KillNode(%d): %v", i, err)
	}
}

// stop sends sig to node i's process group and waits for the process to
// exit, killing it if it outlives timeout.
func (c *Cluster) stop(i int, sig syscall.Signal, timeout time.Duration) error {
	node := c.nodes[i]
	p := node.process()
	if p == nil {
		return errors.New("node is not running")
	}
	defer func() {
		p.stdin.Close()
		node.mu.Lock()
		node.proc = nil
		node.mu.Unlock()
	}()
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("node %s did not stop within %v after %v; killed", node.name, timeout, sig)
}

// StartNode starts node i again after StopNode or KillNode and waits until
// it has rejoined the cluster and every node sees it running.
func (c *Cluster) StartNode(i int) {
	c.tb.Helper()
	if c.nodes[i].process() != nil {
		c.tb.Fatalf("StartNode(%d): node is running", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeStartTimeout)
	defer cancel()
	if err := c.spawn(c.nodes[i]); err != nil {
		c.fail("StartNode(%d): %v", i, err)
	}
	if err := c.waitBooted(ctx, i); err != nil {
		c.fail("StartNode(%d): node did not start within %v: %v", i, nodeStartTimeout, err)
	}
	if err := c.waitAllRunning(ctx); err != nil {
		c.fail("StartNode(%d): node did not rejoin within %v: %v", i, nodeStartTimeout, err)
	}
}

// RunningNodes returns the nodes that node i sees running in its cluster,
// from `rabbitmqctl cluster_status`.
func (c *Cluster) RunningNodes(i int) ([]string, error) {
	st, err := c.status(context.Background(), i)
	return st.RunningNodes, err
}

// QueueLeader returns the index of the node that leads the quorum queue
// named queue in vhost "/", asking a running node. It fails the test when
// no running node knows a leader.
func (c *Cluster) QueueLeader(queue string) int {
	c.tb.Helper()
	var errs []string
	for i, node := range c.nodes {
		if node.process() == nil {
			continue
		}
		out, err := c.Ctl(i, "list_queues", "name", "leader", "--formatter", "json")
		if err != nil {
			errs = append(errs, fmt.Sprintf("node %d: %v: %s", i, err, strings.TrimSpace(out)))
			continue
		}
		var rows []struct {
			Name   string `json:"name"`
			Leader string `json:"leader"`
		}
		if err := json.Unmarshal([]byte(jsonPart(out)), &rows); err != nil {
			errs = append(errs, fmt.Sprintf("node %d: %v: %s", i, err, out))
			continue
		}
		for _, r := range rows {
			if r.Name != queue {
				continue
			}
			if j := slices.IndexFunc(c.nodes, func(n *clusterNode) bool { return n.name == r.Leader }); j >= 0 {
				return j
			}
			errs = append(errs, fmt.Sprintf("node %d: leader of %s is %q", i, queue, r.Leader))
		}
		if len(errs) == 0 {
			errs = append(errs, fmt.Sprintf("node %d: no queue %s", i, queue))
		}
	}
	c.tb.Fatalf("QueueLeader(%s): %s", queue, strings.Join(errs, "; "))
	return -1
}

// stopAll kills every node that runs; the test is over, so there is
// nothing to stop gracefully for.
func (c *Cluster) stopAll() {
	for i := range c.nodes {
		if c.nodes[i].process() != nil {
			if err := c.stop(i, syscall.SIGKILL, nodeStopTimeout); err != nil {
				c.tb.Errorf("stopping RabbitMQ node %d: %v", i, err)
			}
		}
	}
}

// fail fails the test with msg and the tail of every node's logs.
func (c *Cluster) fail(format string, args ...any) {
	c.tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	for i, node := range c.nodes {
		// The stdout shows a crash at boot (init terminating in do_boot);
		// the log file shows the rest.
		fmt.Fprintf(&b, "\n--- node %d (%s) stdout, tail ---\n%s", i, node.name, tail(node.stdout, 4))
		logFile := filepath.Join(node.dir, "log", node.name+".log")
		fmt.Fprintf(&b, "\n--- node %d log %s, tail ---\n%s", i, logFile, tail(logFile, 15))
	}
	c.tb.Fatal(b.String())
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
