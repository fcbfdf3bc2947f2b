package amqptransport

import (
	"crypto/tls"
	"log/slog"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/backoff"

	"github.com/svcclient/svcclient/runtime"
)

// Defaults.
const (
	// DefaultMaxMsgSize is the default limit on a request or reply body,
	// both ways and on both sides, as grpc-go's default receive limit.
	DefaultMaxMsgSize = 4 << 20
	// DefaultConcurrency is how many requests a server runs at once per
	// service by default.
	DefaultConcurrency = 64
	// DefaultIsolationThreshold is the request size above which a client
	// publishes on a channel of its own; see WithIsolationThreshold.
	DefaultIsolationThreshold = 64 << 10
)

// DefaultBackoff is the reconnect backoff of clients and servers: 50 ms,
// doubling, capped at 1 s, with full jitter (each delay drawn from [0, d]).
// The cap is low because every caller waits on the reconnect: a Conn or
// Server works again within about a second of its broker coming back,
// whatever the length of the outage, at the price of one connection
// attempt per second per process while the broker is down.
var DefaultBackoff = backoff.Config{
	BaseDelay:  50 * time.Millisecond,
	Multiplier: 2,
	Jitter:     1,
	MaxDelay:   time.Second,
}

// ClientOption configures a client [Conn].
type ClientOption interface {
	applyToClient(*clientConfig)
}

// ServerOption configures a [Server].
type ServerOption interface {
	applyToServer(*serverConfig)
}

// Option configures both clients and servers.
type Option interface {
	ClientOption
	ServerOption
}

// commonConfig is what clients and servers share: how to reach the broker,
// and the message size limits.
type commonConfig struct {
	amqp    amqp.Config
	tls     *tls.Config
	backoff backoff.Config
	maxRecv int
	maxSend int
	nodes   []string // WithNodes: the cluster's other nodes
}

func defaultCommon() commonConfig {
	return commonConfig{backoff: DefaultBackoff, maxRecv: DefaultMaxMsgSize, maxSend: DefaultMaxMsgSize}
}

// dialConfig returns the amqp.Config for one dial. The tls.Config is cloned
// every time because amqp091-go writes ServerName into the one it is given.
func (c *commonConfig) dialConfig(connectionName string) amqp.Config {
	cfg := c.amqp
	if c.tls != nil {
		cfg.TLSClientConfig = c.tls.Clone()
	} else if cfg.TLSClientConfig != nil {
		cfg.TLSClientConfig = cfg.TLSClientConfig.Clone()
	}
	props := amqp.NewConnectionProperties()
	for k, v := range c.amqp.Properties {
		props[k] = v
	}
	if _, ok := props["connection_name"]; !ok {
		props.SetClientConnectionName(connectionName)
	}
	cfg.Properties = props
	return cfg
}

type clientConfig struct {
	commonConfig
	codec        runtime.Codec
	privateReply bool
	route        func(fullMethod string) (exchange, routingKey string)
	isolateAbove int
	presenceTTL  time.Duration // WithPresenceTTL; negative: no probes
}

type serverConfig struct {
	commonConfig
	concurrency  int
	prefetch     int
	codecs       codecSet
	defaultCodec runtime.Codec
	logger       *slog.Logger
	serverQueueConfig
}

type option struct {
	client func(*clientConfig)
	server func(*serverConfig)
}

func (o option) applyToClient(c *clientConfig) { o.client(c) }
func (o option) applyToServer(c *serverConfig) { o.server(c) }

func commonOption(f func(*commonConfig)) Option {
	return option{
		client: func(c *clientConfig) { f(&c.commonConfig) },
		server: func(c *serverConfig) { f(&c.commonConfig) },
	}
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyToClient(c *clientConfig) { f(c) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyToServer(c *serverConfig) { f(c) }

// WithAMQPConfig sets the amqp091-go configuration every connection is
// dialled with: heartbeat, SASL, vhost, frame size, client properties, a
// custom Dial. Leave Config.Recovery nil: this package reconnects on its own
// (see [Conn]).
func WithAMQPConfig(cfg amqp.Config) Option {
	return commonOption(func(c *commonConfig) { c.amqp = cfg })
}

// WithTLSConfig sets the TLS configuration for amqps:// URLs: a private CA,
// client certificates, a ServerName other than the URL's host.
func WithTLSConfig(cfg *tls.Config) Option {
	return commonOption(func(c *commonConfig) { c.tls = cfg })
}

// WithReconnectBackoff sets the delays between attempts to reconnect to
// the broker, in grpc-go's terms, except Jitter: each delay is drawn from
// [d·(1−Jitter), d], so that MaxDelay is never exceeded. The default is
// [DefaultBackoff].
func WithReconnectBackoff(cfg backoff.Config) Option {
	return commonOption(func(c *commonConfig) { c.backoff = cfg })
}

// WithMaxRecvMsgSize sets the largest body accepted: replies on a client,
// requests on a server. Larger ones fail with ResourceExhausted. The default
// is [DefaultMaxMsgSize]; grpc.MaxCallRecvMsgSize overrides it per call.
func WithMaxRecvMsgSize(n int) Option {
	return commonOption(func(c *commonConfig) { c.maxRecv = n })
}

// WithMaxSendMsgSize sets the largest body sent: requests on a client,
// replies on a server. Larger ones fail with ResourceExhausted before they
// are published. The default is [DefaultMaxMsgSize]; grpc.MaxCallSendMsgSize
// overrides it per call.
func WithMaxSendMsgSize(n int) Option {
	return commonOption(func(c *commonConfig) { c.maxSend = n })
}

// WithCodec sets the codec requests are encoded with: runtime.ProtoCodec{}
// (the default) or &runtime.JSONCodec{}. Servers answer in the codec of the
// request.
func WithCodec(codec runtime.Codec) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.codec = codec })
}

// WithPrivateReplyQueue makes the client receive replies on a queue of its
// own, declared on every connect (server-named, exclusive, auto-delete),
// instead of RabbitMQ's Direct Reply-to.
//
// Direct Reply-to, the default, needs no queue: replies go straight to the
// channel that published the request, which is cheaper for the broker and
// faster. Its limits: it is RabbitMQ's extension of AMQP 0-9-1; the reply
// must be published to the same node's connection; and a reply to a client
// that has disconnected is dropped (so is one to a private queue, which is
// exclusive to the connection). Choose a private queue for brokers or
// proxies without Direct Reply-to, to see and trace replies as a queue in
// the management UI, or to let the broker buffer replies for a slow client
// rather than apply flow control to the servers that publish them.
func WithPrivateReplyQueue() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.privateReply = true })
}

// WithRouting says where a method's requests are published: an exchange and
// a routing key. The default is the default exchange ("") with the service's
// fully-qualified name as routing key, which routes to the queue of that
// name: the queue a [Server] consumes by default. Requests to an exchange
// other than the default are published on a channel of their own, so that
// a missing exchange (404) fails that call alone.
func WithRouting(route func(fullMethod string) (exchange, routingKey string)) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.route = route })
}

// WithIsolationThreshold sets the request size, in bytes, above which a
// request is published on a channel of its own rather than the shared one.
// A broker refuses a message over its max_message_size by closing the
// channel (406); isolated, that fails only the call that sent it, with
// ResourceExhausted, instead of every call sharing the channel. The default
// is [DefaultIsolationThreshold], far below any broker's limit; isolation
// costs a pooled channel per large call in flight.
func WithIsolationThreshold(bytes int) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.isolateAbove = bytes })
}

// WithConcurrency sets how many requests of each service a server runs at
// once: the size of its worker pool. The default is [DefaultConcurrency].
func WithConcurrency(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.concurrency = n })
}

// WithPrefetch sets how many requests of each service the broker hands
// this server before it has answered any: the requests running or waiting
// for a worker. The default equals the concurrency, so that requests a
// server cannot start yet stay in the queue for the servers that can. The
// AMQP prefetch count (basic.qos) is twice n: a request whose reply waits
// for the broker's confirm is still unacked, and must not hold a place.
func WithPrefetch(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.prefetch = n })
}

// WithCodecs replaces the codecs a server decodes requests with, by name:
// for instance &runtime.JSONCodec{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}.
func WithCodecs(codecs ...runtime.Codec) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		for _, codec := range codecs {
			c.codecs.set(codec)
		}
	})
}

// WithDefaultCodec sets the codec for requests that carry no content_type.
// The default is protobuf binary.
func WithDefaultCodec(codec runtime.Codec) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.defaultCodec = codec })
}

// WithLogger sets where a server reports what it cannot tell a caller:
// requests without reply_to, replies it failed to publish, reconnects. The
// default is slog.Default().
func WithLogger(l *slog.Logger) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.logger = l })
}

// RegisterOption configures one service on a [Server].
type RegisterOption interface {
	applyToRegistration(*registration)
}

type registerOptionFunc func(*registration)

func (f registerOptionFunc) applyToRegistration(r *registration) { f(r) }

// WithQueue sets the queue a service takes its requests from. The default
// is the service's fully-qualified name ("helloworld.Greeter"), which
// clients reach through the default exchange without configuration.
func WithQueue(name string) RegisterOption {
	return registerOptionFunc(func(r *registration) { r.queue = name })
}

// WithQueueSetup replaces the queue declaration a server makes on every
// (re)connect. setup runs on a channel of its own and may declare the queue
// with other arguments (a quorum queue with x-delivery-limit, say), bind it
// to exchanges, or only check that it exists. An error fails the connect.
//
// By default the queue is declared as docs/amqp-protocol.md section 1 says:
// durable, not auto-delete, x-expires 24 hours (and, with WithQuorumQueue,
// a quorum queue with a delivery limit). A setup that declares it
// otherwise must do so on every server of the queue, or the broker refuses
// the later declarations (406).
func WithQueueSetup(setup func(ch *amqp.Channel, queue string) error) RegisterOption {
	return registerOptionFunc(func(r *registration) { r.setup = setup })
}

// Server options: the request queue's type and its delivery limit.

// serverQueueConfig is how a server declares its request queues.
type serverQueueConfig struct {
	quorum        bool
	deliveryLimit int // poison threshold: see WithQuorumQueue
}

// WithQuorumQueue declares every request queue of the server as a quorum
// queue (x-queue-type quorum): replicated over the nodes of a RabbitMQ
// cluster, so that requests survive the loss of a node. It sets the queue's
// x-delivery-limit (WithDeliveryLimit, default [DefaultDeliveryLimit]): a request
// delivered limit times already without an answer (its servers crashed or
// lost their connection handling it each time) is answered ABORTED without
// running, and acked, so that its caller fails at once instead of at its
// deadline, and the broker drops it if it is returned again.
//
// Every server of a queue must agree on its type and limit: a queue that
// exists with other arguments makes Start fail with 406 and an error that
// says how to migrate. Classic queues (the default) are cheaper and enough
// on a single broker; quorum queues are for clusters (see
// docs/amqp-protocol.md section 1).
func WithQuorumQueue() ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		c.quorum = true
		if c.deliveryLimit == 0 {
			c.deliveryLimit = DefaultDeliveryLimit
		}
	})
}

// WithDeliveryLimit sets the x-delivery-limit of the server's quorum
// request queues (see WithQuorumQueue); the default is
// [DefaultDeliveryLimit]. It has no effect on classic queues, which do not
// count deliveries.
func WithDeliveryLimit(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.deliveryLimit = n })
}

// Cluster nodes (client and server), and the client's presence probe.

// WithNodes adds the other nodes of a RabbitMQ cluster to the URL given to
// Dial (or Server.Start), as URLs of the same form. The connection goes to
// the first node that answers, in order; when it is lost, the next
// reconnect starts with the node after the lost one, round robin, so that
// a node that went down is tried last. Calls in flight on a lost
// connection end at once with Unavailable: their replies cannot arrive on
// another connection.
//
// A client given nodes uses a private reply queue (as with
// [WithPrivateReplyQueue]) rather than Direct Reply-to: a Direct Reply-to
// reply crosses from the server's node to the client's after the broker
// confirmed it, and is lost if a node dies in between; a reply queue holds
// it once confirmed.
func WithNodes(urls ...string) Option {
	return commonOption(func(c *commonConfig) { c.nodes = append([]string(nil), urls...) })
}

// WithPresenceTTL sets how long a client trusts that a request queue has a
// consumer (a server) before it asks the broker again, by a passive
// queue.declare, whose reply carries the consumer count. A call to a queue
// with no consumer, or to no queue, fails at once with Unavailable and is
// not published; that answer is never cached, so a server that starts is
// seen by the next call. The default is [DefaultPresenceTTL]; 0 asks
// before every call; a negative d turns the probe off, leaving only the
// mandatory flag (which sees a missing queue, not a queue without
// consumers) to fail calls nobody serves.
//
// Only calls published to the default exchange are probed, since only
// there is the routing key a queue's name.
func WithPresenceTTL(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.presenceTTL = d })
}
