package httptransport

import (
	"crypto/tls"
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/svcclient/svcclient/runtime"
)

// defaultReadMaxBytes bounds a message read by a client or a handler unless
// [WithReadMaxBytes] says otherwise: 4 MiB, as gRPC bounds a received
// message by default.
const defaultReadMaxBytes = 4 << 20

// ClientOption configures a [Conn].
type ClientOption interface {
	applyToClient(*clientConfig)
}

// HandlerOption configures a [Handler].
type HandlerOption interface {
	applyToHandler(*handlerConfig)
}

// Option configures both a [Conn] and a [Handler].
type Option interface {
	ClientOption
	HandlerOption
}

type clientConfig struct {
	httpClient   *http.Client
	tlsConfig    *tls.Config
	codec        runtime.Codec
	jsonCodec    *runtime.JSONCodec
	connectOnly  bool
	grpcWeb      bool
	readMaxBytes int64
	h2c          bool
	compressor   string
	compressMin  int
}

type handlerConfig struct {
	jsonCodec    *runtime.JSONCodec
	readMaxBytes int64
	compressMin  int
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyToClient(c *clientConfig) { f(c) }

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyToHandler(c *handlerConfig) { f(c) }

// WithHTTPClient sends requests with client instead of a client of the
// transport's own. Anything client.Transport does (HTTP/2, proxies, custom
// dialers, mutual TLS) applies to every call. The transport uses a copy of
// client whose CheckRedirect refuses every redirect (client itself is left
// as it is): a call answered with a 3xx fails with Internal, as on grpc-go,
// so that metadata never reaches an origin the caller did not name.
func WithHTTPClient(client *http.Client) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.httpClient = client })
}

// WithTLSConfig makes the transport's own HTTP client use config for https
// base URLs. It cannot be combined with [WithHTTPClient]: configure that
// client's transport instead.
func WithTLSConfig(config *tls.Config) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.tlsConfig = config })
}

// WithCodec chooses how request and response messages are encoded:
// runtime.ProtoCodec{} for binary protobuf (application/proto), or a
// *runtime.JSONCodec for JSON with options of your own. The default is JSON.
// REST streams and error bodies are JSON whatever the codec.
func WithCodec(codec runtime.Codec) ClientOption {
	return clientOptionFunc(func(c *clientConfig) {
		c.codec = codec
		if jc, ok := codec.(*runtime.JSONCodec); ok {
			c.jsonCodec = jc
		}
	})
}

// WithConnectRoutes sends every call on its Connect route, POST
// /package.Service/Method, including methods with google.api.http rules.
// Use it against servers that speak the Connect protocol only, such as
// connect-go's handlers.
func WithConnectRoutes() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.connectOnly = true })
}

// WithJSONCodec sets the options of the JSON a [Handler] reads and writes
// on every route. By default Connect routes write only set fields, as
// connect-go does, and REST routes write every field, unpopulated ones
// included, as grpc-gateway's default marshaler does; both ignore unknown
// fields in requests, as both peers do.
func WithJSONCodec(codec *runtime.JSONCodec) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.jsonCodec = codec })
}

// readMaxBytesOption is the bound, or -1 for none (0 is "not set").
type readMaxBytesOption int64

func (o readMaxBytesOption) applyToClient(c *clientConfig)   { c.readMaxBytes = int64(o) }
func (o readMaxBytesOption) applyToHandler(c *handlerConfig) { c.readMaxBytes = int64(o) }

// WithReadMaxBytes bounds the size of a message read: a request body on a
// [Handler], a response message on a [Conn]. Larger messages fail with
// ResourceExhausted. The default is 4 MiB; n <= 0 removes the bound. On a
// client, grpc.MaxCallRecvMsgSize overrides it for one call.
func WithReadMaxBytes(n int) Option {
	if n <= 0 {
		return readMaxBytesOption(-1)
	}
	return readMaxBytesOption(n)
}

// WithH2C makes the transport's own HTTP client speak HTTP/2 without TLS
// (h2c, with prior knowledge) to http:// base URLs, which bidi streams
// need. The server must serve h2c: see [Handler] for how to mount one. With
// [WithHTTPClient] the option only declares that the given client speaks
// HTTP/2 to the base URL; configuring it to is the client's business.
func WithH2C() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.h2c = true })
}

// WithCompression compresses request messages with the named encoding,
// "gzip" (the one spoken here) or "identity" (none, the default, as on
// connect-go). grpc.UseCompressor overrides it for one call. Whatever this
// says, the client accepts gzip-compressed responses.
func WithCompression(name string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.compressor = name })
}

// compressMinBytesOption is the size, or -1 to compress every message.
type compressMinBytesOption int

func (o compressMinBytesOption) applyToClient(c *clientConfig)   { c.compressMin = int(o) }
func (o compressMinBytesOption) applyToHandler(c *handlerConfig) { c.compressMin = int(o) }

// WithCompressMinBytes sets the size below which a message is sent
// uncompressed even when compression was negotiated: 1 KiB by default;
// n <= 0 compresses every message.
func WithCompressMinBytes(n int) Option {
	if n <= 0 {
		return compressMinBytesOption(-1)
	}
	return compressMinBytesOption(n)
}

func defaultJSONCodec() *runtime.JSONCodec {
	return &runtime.JSONCodec{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}
}

// gatewayJSONCodec is grpc-gateway's default marshaler: unpopulated fields
// are written ("users": [], "nextPageToken": ""), so that a JavaScript
// client reading resp.users.length works on an empty list, and unknown
// request fields are ignored.
func gatewayJSONCodec() *runtime.JSONCodec {
	return &runtime.JSONCodec{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
	}
}
