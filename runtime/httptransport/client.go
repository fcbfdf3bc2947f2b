package httptransport

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// Name is the transport's name, as reported by runtime.AnsweredBy.
const Name = "http"

// Conn is the client half of the HTTP transport: a
// grpc.ClientConnInterface that calls a service over HTTP/1.1 or HTTP/2 with
// net/http, for generated svcclient clients and protoc-gen-go-grpc clients
// alike. It is safe for concurrent use.
type Conn struct {
	httpClient  *http.Client
	scheme      string
	host        string
	basePath    string // the base URL's path, without a trailing "/"
	codec       runtime.Codec
	jsonCodec   *runtime.JSONCodec
	connectOnly bool
	grpcWeb     bool // WithGRPCWeb: gRPC-Web on the gRPC path
	readMax     int64
	h2c         bool   // the HTTP client speaks HTTP/2 to http:// URLs
	compressor  string // the default encoding of request messages
	compressMin int    // messages smaller than this are not compressed

	// Header values shared by every request; net/http never modifies them.
	unaryContentType  []string
	streamContentType []string
	accept            []string

	methods sync.Map // full method name → *clientMethod
}

var (
	connectVersionValue = []string{connectProtocolVersion}
	userAgentValue      = []string{userAgent}
	teTrailersValue     = []string{"trailers"}
	jsonContentType     = []string{"application/json"}
)

// NewConn returns a connection to the service at baseURL, e.g.
// "https://api.example.com" or "http://127.0.0.1:8080/prefix". Routes are
// appended to the base URL's path.
func NewConn(baseURL string, opts ...ClientOption) (*Conn, error) {
	cfg := clientConfig{}
	for _, o := range opts {
		o.applyToClient(&cfg)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("httptransport: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("httptransport: base URL %q: want http:// or https:// and a host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("httptransport: base URL %q: a query or fragment has no place in it", baseURL)
	}
	client := cfg.httpClient
	switch {
	case client != nil && cfg.tlsConfig != nil:
		return nil, errors.New("httptransport: WithTLSConfig and WithHTTPClient together: set the TLS config on your client's transport")
	case client == nil && cfg.tlsConfig != nil:
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = cfg.tlsConfig
		t.ForceAttemptHTTP2 = true
		client = &http.Client{Transport: t}
	case client == nil && cfg.h2c:
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(false)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
		client = &http.Client{Transport: t}
	case client == nil:
		client = &http.Client{Transport: http.DefaultTransport}
	}
	switch cfg.compressor {
	case "", encodingIdentity, encodingGzip:
	default:
		return nil, fmt.Errorf("httptransport: compression %q: gzip and identity are spoken", cfg.compressor)
	}
	client = refuseRedirects(client)
	c := &Conn{
		httpClient:  client,
		scheme:      u.Scheme,
		host:        u.Host,
		basePath:    strings.TrimSuffix(u.EscapedPath(), "/"),
		codec:       cfg.codec,
		jsonCodec:   cfg.jsonCodec,
		connectOnly: cfg.connectOnly,
		grpcWeb:     cfg.grpcWeb,
		readMax:     cfg.readMaxBytes,
		h2c:         cfg.h2c,
		compressor:  cfg.compressor,
		compressMin: cfg.compressMin,
	}
	if c.compressMin == 0 {
		c.compressMin = defaultCompressMinBytes
	}
	if c.jsonCodec == nil {
		c.jsonCodec = defaultJSONCodec()
	}
	if c.codec == nil {
		c.codec = c.jsonCodec
	}
	if c.readMax == 0 {
		c.readMax = defaultReadMaxBytes
	}
	c.unaryContentType = []string{connectUnaryPrefix + c.codec.Name()}
	c.streamContentType = []string{connectStreamingPrefix + c.codec.Name()}
	c.accept = c.unaryContentType
	return c, nil
}

// clientMethod is what a Conn decides once per method.
type clientMethod struct {
	fullMethod string
	desc       *transport.MethodDesc // nil when the method is not in the protobuf registry
	connectURL *url.URL
	rest       *restBinding // nil: the Connect route
	err        error        // a rule that does not fit the messages
}

// method returns what c knows of a method. A method the protobuf registry
// does not know can still be called on its Connect route, which needs only
// its name.
func (c *Conn) method(fullMethod string) *clientMethod {
	if cm, ok := c.methods.Load(fullMethod); ok {
		return cm.(*clientMethod)
	}
	cm := &clientMethod{fullMethod: fullMethod}
	cm.connectURL = &url.URL{Scheme: c.scheme, Host: c.host, Path: c.basePath + fullMethod}
	if m, err := transport.Lookup(fullMethod); err == nil {
		cm.desc = m
		if !c.connectOnly {
			var rules []httprule.Rule
			rules, cm.err = httprule.ForMethod(m.Desc)
			if len(rules) > 0 {
				cm.rest, cm.err = compileBinding(m, &rules[0])
			}
		}
	}
	actual, _ := c.methods.LoadOrStore(fullMethod, cm)
	return actual.(*clientMethod)
}

func (c *Conn) readLimit(ci *transport.CallInfo) int64 {
	if ci.MaxRecvMsgSize > 0 {
		return int64(ci.MaxRecvMsgSize)
	}
	return c.readMax
}

// Invoke performs a unary call: on the method's first google.api.http rule
// if it has one, on its Connect route otherwise.
func (c *Conn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	ci := transport.ReadCallOptions(opts)
	header, trailer, err := c.invoke(ctx, method, req, reply, &ci, opts)
	ci.Finish(Name, header, trailer, err)
	return err
}

func (c *Conn) invoke(ctx context.Context, method string, req, reply any, ci *transport.CallInfo, opts []grpc.CallOption) (header, trailer metadata.MD, err error) {
	cm := c.method(method)
	if cm.desc != nil && cm.desc.Kind != transport.Unary {
		return nil, nil, transport.NotSent(status.Errorf(codes.Internal, "%s is a %s method: call it with NewStream", method, cm.desc.Kind))
	}
	in, out, err := transport.ProtoMessages(method, req, reply)
	if err != nil {
		return nil, nil, err
	}
	compressor, err := c.compressorFor(opts)
	if err != nil {
		return nil, nil, err
	}
	if c.grpcWeb {
		return c.invokeGRPCWeb(ctx, cm, in, out, ci, compressor)
	}
	hr, body, err := c.newRequest(ctx, cm, in, ci, false, compressor)
	if err != nil {
		return nil, nil, err
	}
	defer body.release()
	resp, err := c.httpClient.Do(hr)
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if err := redirectError(resp); err != nil {
		return nil, nil, err
	}

	limit := c.readLimit(ci)
	buf := getBuffer()
	defer putBuffer(buf)
	if limit > 0 && resp.ContentLength > limit {
		err = status.Errorf(codes.ResourceExhausted, "response of %d bytes is larger than the limit of %d bytes", resp.ContentLength, limit)
	} else if rerr := readLimited(buf, resp.Body, limit); rerr != nil {
		err = bodyError(ctx, rerr, limit)
	} else if cm.rest == nil && resp.Header.Get(headerContentEncoding) == encodingGzip {
		// Bounded like a plain body: a small body must not expand into
		// unbounded memory.
		var zr *gzip.Reader
		out := getBuffer()
		defer putBuffer(out)
		err = gunzipInto(out, &zr, bytes.NewReader(buf.Bytes()), limit)
		releaseGzipReader(zr)
		if err == nil {
			buf, out = out, buf
		}
	}
	if cm.rest == nil {
		header = responseMetadata(nil, resp.Header, "", connectTrailerPrefix)
		trailer = responseMetadata(nil, resp.Header, connectTrailerPrefix, "")
	} else {
		header = restHeaderMetadata(resp.Header)
		trailer = responseMetadata(nil, resp.Header, gatewayTrailerPrefix, "")
		trailer = responseMetadata(trailer, resp.Trailer, gatewayTrailerPrefix, "")
	}
	if err != nil {
		return header, trailer, err
	}
	return header, trailer, c.decodeUnary(cm, resp, buf.Bytes(), out)
}

func (c *Conn) decodeUnary(cm *clientMethod, resp *http.Response, body []byte, reply proto.Message) error {
	ct := resp.Header.Get(headerContentType)
	if cm.rest == nil {
		if resp.StatusCode != http.StatusOK {
			return statusFromResponse(resp, body).Err()
		}
		name, streaming, ok := codecNameFromContentType(ct)
		if !ok {
			return notConnectResponse(ct)
		}
		if streaming || name != c.codec.Name() {
			return status.Errorf(codes.Internal, "unexpected response content type %q for a %s request", ct, c.codec.Name())
		}
		if err := c.codec.Unmarshal(body, reply); err != nil {
			return status.Errorf(codes.Internal, "decoding response: %v", err)
		}
		return nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusFromResponse(resp, body).Err()
	}
	codec := c.responseCodec(ct)
	if err := cm.rest.decodeResponseBody(body, codec, reply); err != nil {
		return status.Errorf(codes.Internal, "decoding response: %v", err)
	}
	return nil
}

// responseCodec picks the codec of a REST response by its content type:
// binary protobuf if it says so, JSON otherwise.
func (c *Conn) responseCodec(contentType string) runtime.Codec {
	mt, _, _ := strings.Cut(contentType, ";")
	if isProtoMediaType(strings.TrimSpace(strings.ToLower(mt))) {
		return runtime.ProtoCodec{}
	}
	return c.jsonCodec
}

// newRequest builds the HTTP request for a call. The caller must release
// the body once the exchange is over.
func (c *Conn) newRequest(ctx context.Context, cm *clientMethod, req proto.Message, ci *transport.CallInfo, stream bool, compressor string) (*http.Request, *requestBody, error) {
	if cm.err != nil {
		return nil, nil, transport.NotSent(status.Errorf(codes.Internal, "%s: %v", cm.fullMethod, cm.err))
	}
	if err := transport.ContextError(ctx); err != nil {
		return nil, nil, err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	h := make(http.Header, 6+len(md))
	h[headerUserAgent] = userAgentValue
	buf := getBuffer()
	var hr *http.Request
	var err error
	if cm.rest == nil {
		hr, err = c.connectRequest(ctx, cm, req, h, buf, stream, compressor)
		setMetadataHeaders(h, "", md)
	} else {
		hr, err = c.restRequest(ctx, cm, req, h, buf, stream)
		setGatewayMetadataHeaders(h, md)
	}
	if err != nil {
		putBuffer(buf)
		return nil, nil, err
	}
	if ci.MaxSendMsgSize > 0 && buf.Len() > ci.MaxSendMsgSize {
		putBuffer(buf)
		return nil, nil, transport.NotSent(status.Errorf(codes.ResourceExhausted, "request of %d bytes is larger than the limit of %d bytes", buf.Len(), ci.MaxSendMsgSize))
	}
	body := newRequestBody(buf)
	if buf.Len() > 0 {
		hr.Body = body.reader()
		hr.GetBody = body.getBody
		hr.ContentLength = int64(buf.Len())
	}
	return tracePeer(hr, ci), body, nil
}

// tracePeer fills the call's grpc.Peer options once hr has a connection.
func tracePeer(hr *http.Request, ci *transport.CallInfo) *http.Request {
	if len(ci.Peers) == 0 {
		return hr
	}
	return hr.WithContext(httptrace.WithClientTrace(hr.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			ci.SetPeer(&peer.Peer{Addr: info.Conn.RemoteAddr(), LocalAddr: info.Conn.LocalAddr()})
		},
	}))
}

// newStreamingRequest builds the request of a client or bidi stream on the
// method's Connect route, its body read from body as SendMsg writes it.
func (c *Conn) newStreamingRequest(ctx context.Context, cm *clientMethod, ci *transport.CallInfo, compressor string, body io.ReadCloser) (*http.Request, error) {
	if err := transport.ContextError(ctx); err != nil {
		return nil, err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	h := make(http.Header, 8+len(md))
	h[headerUserAgent] = userAgentValue
	h[headerConnectVersion] = connectVersionValue
	h[headerContentType] = c.streamContentType
	h[headerConnectAcceptEncoding] = gzipValue
	if compressor != "" {
		h[headerConnectEncoding] = []string{compressor}
	}
	if deadline, ok := ctx.Deadline(); ok {
		if t := encodeConnectTimeout(time.Until(deadline)); t != "" {
			h[headerConnectTimeout] = []string{t}
		}
	}
	setMetadataHeaders(h, "", md)
	hr := newHTTPRequest(ctx, http.MethodPost, cm.connectURL, h)
	hr.Body = body
	hr.ContentLength = -1
	return tracePeer(hr, ci), nil
}

// appendEnvelope appends msg to b as one envelope, compressed with
// compressor if it is set and the message is not smaller than the
// connection's minimum.
func (c *Conn) appendEnvelope(b []byte, msg proto.Message, compressor string, zip **gzipCompressor) ([]byte, error) {
	b = appendEnvelopeHeader(b, 0, 0)
	b, err := c.codec.MarshalAppend(b, msg)
	if err != nil {
		return b[:0], status.Errorf(codes.Internal, "encoding request: %v", err)
	}
	if compressor == encodingGzip && len(b)-envelopePrefixLen >= c.compressMin {
		if *zip == nil {
			*zip = new(gzipCompressor)
		}
		z := (*zip).compress(b[envelopePrefixLen:])
		b = append(b[:envelopePrefixLen], z...)
		b[0] = flagCompressed
	}
	putLength(b, len(b)-envelopePrefixLen)
	return b, nil
}

func (c *Conn) connectRequest(ctx context.Context, cm *clientMethod, req proto.Message, h http.Header, buf *bytes.Buffer, stream bool, compressor string) (*http.Request, error) {
	h[headerConnectVersion] = connectVersionValue
	if deadline, ok := ctx.Deadline(); ok {
		if t := encodeConnectTimeout(time.Until(deadline)); t != "" {
			h[headerConnectTimeout] = []string{t}
		}
	}
	b := buf.AvailableBuffer()
	var err error
	if stream {
		h[headerContentType] = c.streamContentType
		h[headerConnectAcceptEncoding] = gzipValue
		if compressor != "" {
			h[headerConnectEncoding] = []string{compressor}
		}
		var zip *gzipCompressor
		if b, err = c.appendEnvelope(b, req, compressor, &zip); err != nil {
			return nil, transport.NotSent(err)
		}
	} else {
		h[headerContentType] = c.unaryContentType
		h[headerAcceptEncoding] = gzipValue
		b, err = c.codec.MarshalAppend(b, req)
		if err != nil {
			return nil, transport.NotSent(status.Errorf(codes.Internal, "encoding request: %v", err))
		}
		if compressor == encodingGzip && len(b) >= c.compressMin {
			b = appendCompressed(nil, b)
			h[headerContentEncoding] = gzipValue
		}
	}
	buf.Write(b)
	return newHTTPRequest(ctx, http.MethodPost, cm.connectURL, h), nil
}

func putLength(envelope []byte, n int) {
	envelope[1], envelope[2], envelope[3], envelope[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

func (c *Conn) restRequest(ctx context.Context, cm *clientMethod, req proto.Message, h http.Header, buf *bytes.Buffer, stream bool) (*http.Request, error) {
	rb := cm.rest
	codec := c.codec
	if stream {
		// grpc-gateway streams JSON only.
		codec = c.jsonCodec
	}
	if deadline, ok := ctx.Deadline(); ok {
		if t := encodeGRPCTimeout(time.Until(deadline)); t != "" {
			h[headerGRPCTimeout] = []string{t}
		}
	}
	h[headerTE] = teTrailersValue
	if codec == c.codec {
		h[headerAccept] = c.accept
	} else {
		h[headerAccept] = jsonContentType
	}
	var scratch [256]byte
	target := append(scratch[:0], c.basePath...)
	target, err := rb.appendURL(target, req.ProtoReflect())
	if err != nil {
		return nil, transport.NotSent(status.Errorf(codes.InvalidArgument, "%s: %v", cm.fullMethod, err))
	}
	if rb.hasBody() {
		if codec == c.codec {
			h[headerContentType] = c.unaryContentType
		} else {
			h[headerContentType] = jsonContentType
		}
		b, err := rb.appendBody(buf.AvailableBuffer(), codec, req)
		if err != nil {
			return nil, transport.NotSent(status.Errorf(codes.Internal, "%s: encoding request body: %v", cm.fullMethod, err))
		}
		buf.Write(b)
	}
	u, err := restURL(c.scheme, c.host, string(target))
	if err != nil {
		return nil, transport.NotSent(status.Errorf(codes.Internal, "%s: %v", cm.fullMethod, err))
	}
	return newHTTPRequest(ctx, rb.rule.Method, u, h), nil
}

// restURL is the URL of a REST request whose escaped path and query are
// target.
func restURL(scheme, host, target string) (*url.URL, error) {
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	u := &url.URL{Scheme: scheme, Host: host, RawQuery: rawQuery}
	if strings.IndexByte(rawPath, '%') < 0 {
		u.Path = rawPath
		return u, nil
	}
	u.RawPath = rawPath
	var err error
	if u.Path, err = url.PathUnescape(rawPath); err != nil {
		return nil, fmt.Errorf("built an invalid path %q", rawPath)
	}
	return u, nil
}

func newHTTPRequest(ctx context.Context, method string, u *url.URL, h http.Header) *http.Request {
	r := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       u.Host,
		Body:       http.NoBody,
	}
	return r.WithContext(ctx)
}
