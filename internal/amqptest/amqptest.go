// Package amqptest finds the RabbitMQ broker that integration tests run
// against, and gives them what they share: unique queue names that are
// deleted afterwards, and a loopback proxy whose connections a test can cut.
package amqptest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/svcclient/svcclient/internal/tlstest"
)

// DefaultURL is the broker tests use when AMQP_URL is not set.
const DefaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// RequireEnv names the variable that turns a missing broker from a skip
// into a failure; CI sets it so that these tests cannot pass by skipping.
const RequireEnv = "SVCCLIENT_REQUIRE_AMQP"

var (
	probeOnce sync.Once
	probeErr  error
)

// URL returns the broker's URL, from AMQP_URL or DefaultURL. When no broker
// answers there, the test is skipped with a message saying how to start
// one, or fails if SVCCLIENT_REQUIRE_AMQP=1.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("AMQP_URL")
	if u == "" {
		u = DefaultURL
	}
	probeOnce.Do(func() {
		var conn *amqp.Connection
		conn, probeErr = amqp.DialConfig(u, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
		if probeErr == nil {
			probeErr = conn.Close()
		}
	})
	if probeErr != nil {
		msg := fmt.Sprintf("no RabbitMQ broker at %s (%v): start one with `rabbitmq-server -detached` "+
			"(or `docker run -d -p 5672:5672 rabbitmq:3`), or point AMQP_URL=amqp://user:pass@host:5672/ at one", redact(u), probeErr)
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s; %s=1 requires it", msg, RequireEnv)
		}
		tb.Skip(msg)
	}
	return u
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "AMQP_URL"
	}
	return p.Redacted()
}

var queueSeq atomic.Uint64

// Queue returns a queue name no other test uses, and deletes the queue of
// that name when the test ends.
func Queue(tb testing.TB, brokerURL string) string {
	tb.Helper()
	name := fmt.Sprintf("svcclient-test.%s.%d.%d", sanitize(tb.Name()), os.Getpid(), queueSeq.Add(1))
	tb.Cleanup(func() { DeleteQueue(tb, brokerURL, name) })
	return name
}

// DeleteQueue deletes a queue if it exists.
func DeleteQueue(tb testing.TB, brokerURL, name string) {
	tb.Helper()
	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		tb.Logf("deleting queue %s: %v", name, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		tb.Logf("deleting queue %s: %v", name, err)
		return
	}
	if _, err := ch.QueueDelete(name, false, false, false); err != nil {
		tb.Logf("deleting queue %s: %v", name, err)
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

// Proxy forwards loopback TCP connections to the broker, so that a test can
// cut them (as a network failure would) and let clients reconnect.
type Proxy struct {
	ln     net.Listener
	target string
	url    string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to the broker at brokerURL; it stops when the
// test ends.
func NewProxy(tb testing.TB, brokerURL string) *Proxy {
	tb.Helper()
	return newProxy(tb, brokerURL, nil)
}

// NewTLSProxy starts a proxy that terminates TLS in front of the broker at
// brokerURL, with a certificate for 127.0.0.1 made for the test. Its URL is
// amqps://; clients trust it through the returned tls.Config only.
func NewTLSProxy(tb testing.TB, brokerURL string) (*Proxy, *tls.Config) {
	tb.Helper()
	pki := tlstest.New(tb)
	return newProxy(tb, brokerURL, pki.ServerConfig(false)), pki.ClientConfig(false)
}

// NewTLSProxyConfig starts a proxy that terminates TLS with config in front
// of the broker at brokerURL; its URL is amqps://. With
// config.ClientAuth set, it refuses clients as a broker configured for
// mutual TLS would, before the broker sees a connection.
func NewTLSProxyConfig(tb testing.TB, brokerURL string, config *tls.Config) *Proxy {
	tb.Helper()
	return newProxy(tb, brokerURL, config)
}

func newProxy(tb testing.TB, brokerURL string, serverTLS *tls.Config) *Proxy {
	tb.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		tb.Fatalf("parsing %s: %v", redact(brokerURL), err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5672")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	u.Host = ln.Addr().String()
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
		u.Scheme = "amqps"
	}
	p := &Proxy{ln: ln, target: target, url: u.String(), conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// URL is the broker's URL through the proxy.
func (p *Proxy) URL() string { return p.url }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(client)
	}
}

// handshakeTimeout bounds a TLS client's handshake with the proxy.
const handshakeTimeout = 5 * time.Second

// forward connects client to the broker. A TLS client completes its
// handshake first, so that one the proxy refuses (no certificate, wrong
// CA) never opens a connection to the broker.
func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	if tc, ok := client.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			client.Close()
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	p.wg.Add(2)
	go p.pipe(client, server)
	go p.pipe(server, client)
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut closes every connection through the proxy, as a failed network
// would; new connections are accepted.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	return n
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
