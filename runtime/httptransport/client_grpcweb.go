package httptransport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// WithGRPCWeb makes the Conn speak the gRPC-Web protocol on every method's
// gRPC path (POST /package.Service/Method) instead of the Connect protocol
// and REST routes: unary and server-streaming calls, over HTTP/1.1 or
// HTTP/2. gRPC-Web goes where gRPC cannot, through proxies that speak
// HTTP/1.1 only or drop HTTP trailers, and reaches any gRPC-Web server:
// this package's Handler, connect-go's handlers, Envoy's grpc_web filter.
// Client and bidi streaming are not part of gRPC-Web.
func WithGRPCWeb() ClientOption {
	return clientOptionFunc(func(c *clientConfig) { c.grpcWeb = true })
}

var (
	grpcWebProtoContentType = []string{grpcWebContentTypePrefix + "+proto"}
	grpcWebJSONContentType  = []string{grpcWebContentTypePrefix + "+json"}
	xGRPCWebValue           = []string{"1"}
)

// grpcWebRequest builds the request of a gRPC-Web call: one envelope, the
// deadline as grpc-timeout, metadata as headers. The caller must release
// the body once the exchange is over.
func (c *Conn) grpcWebRequest(ctx context.Context, cm *clientMethod, req proto.Message, ci *transport.CallInfo, compressor string) (*http.Request, *requestBody, error) {
	if err := transport.ContextError(ctx); err != nil {
		return nil, nil, err
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	h := make(http.Header, 6+len(md))
	setMetadataHeaders(h, "", md)
	h[headerUserAgent] = userAgentValue
	h["X-Grpc-Web"] = xGRPCWebValue
	h[headerGRPCAcceptEncoding] = grpcAcceptEncodingValue
	if c.codec.Name() == "proto" {
		h[headerContentType] = grpcWebProtoContentType
	} else {
		h[headerContentType] = grpcWebJSONContentType
	}
	if deadline, ok := ctx.Deadline(); ok {
		if t := encodeGRPCTimeout(time.Until(deadline)); t != "" {
			h[headerGRPCTimeout] = []string{t}
		}
	}
	if compressor == encodingGzip {
		h[headerGRPCEncoding] = grpcEncodingGzip
	}
	buf := getBuffer()
	b := appendEnvelopeHeader(buf.AvailableBuffer(), 0, 0)
	b, err := c.codec.MarshalAppend(b, req)
	if err != nil {
		putBuffer(buf)
		return nil, nil, transport.NotSent(status.Errorf(codes.Internal, "encoding request: %v", err))
	}
	// The limit is on the message as encoded, before compression.
	if n := len(b) - envelopePrefixLen; ci.MaxSendMsgSize > 0 && n > ci.MaxSendMsgSize {
		putBuffer(buf)
		return nil, nil, transport.NotSent(status.Errorf(codes.ResourceExhausted, "request of %d bytes is larger than the limit of %d bytes", n, ci.MaxSendMsgSize))
	}
	if compressor == encodingGzip && len(b)-envelopePrefixLen >= c.compressMin {
		b = appendCompressed(appendEnvelopeHeader(nil, flagCompressed, 0), b[envelopePrefixLen:])
	}
	putLength(b, len(b)-envelopePrefixLen)
	buf.Write(b)
	hr := newHTTPRequest(ctx, http.MethodPost, cm.connectURL, h)
	body := newRequestBody(buf)
	hr.Body = body.reader()
	hr.GetBody = body.getBody
	hr.ContentLength = int64(buf.Len())
	return hr, body, nil
}

// grpcWebResponse reads a gRPC-Web response: its header, then envelopes
// until the trailer envelope.
type grpcWebResponse struct {
	resp    *http.Response
	r       *bufio.Reader
	codec   runtime.Codec
	limit   int64
	gzip    bool
	buf     []byte
	header  metadata.MD
	trailer metadata.MD
}

// begin checks the response's HTTP status and content type, and reads a
// trailers-only response's status. A non-nil error ends the call.
func (g *grpcWebResponse) begin() error {
	g.header = responseMetadata(nil, g.resp.Header, "", "")
	for _, k := range [...]string{"grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding", "grpc-accept-encoding"} {
		delete(g.header, k)
	}
	if g.resp.StatusCode != http.StatusOK {
		// As grpc-go maps the HTTP status of a response that is not gRPC.
		return status.Errorf(codeFromHTTPStatus(g.resp.StatusCode), "HTTP status %s", g.resp.Status)
	}
	g.r = bufio.NewReader(g.resp.Body)
	// Only a trailers-only response, whose body is empty, carries its
	// status in the header; when a body follows, its trailer envelope
	// holds the status and a grpc-status header is ignored, as connect-go
	// and the Connect conformance suite have it.
	if st, ok := grpcStatusFromHeader(g.resp.Header); ok && g.bodyIsEmpty() {
		g.trailer = g.header
		if st.Code() == codes.OK {
			return io.EOF
		}
		return st.Err()
	}
	f, ok := grpcFormOf(&http.Request{Header: g.resp.Header})
	if !ok || !f.web || f.text {
		return status.Errorf(codes.Unknown, "unexpected response content type %q for a gRPC-Web call", g.resp.Header.Get(headerContentType))
	}
	switch enc := g.resp.Header.Get(headerGRPCEncoding); enc {
	case "", "identity":
	case "gzip":
		g.gzip = true
	default:
		return status.Errorf(codes.Internal, "response in unknown grpc-encoding %q", enc)
	}
	return nil
}

// bodyIsEmpty reports whether the response body ends before its first
// byte. An error reading it is left for next to report.
func (g *grpcWebResponse) bodyIsEmpty() bool {
	_, err := g.r.Peek(1)
	return err == io.EOF
}

// next reads the next message into msg. It returns io.EOF after a trailer
// envelope with status OK, the status error after any other. A nil msg
// expects the trailer envelope: a message there is a protocol error.
func (g *grpcWebResponse) next(msg proto.Message) error {
	flags, data, err := readEnvelope(g.r, g.buf[:0], g.limit)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Internal, "protocol error: gRPC-Web response ended without its trailer")
		}
		return err
	}
	g.buf = data[:0]
	if flags&flagCompressed != 0 {
		// The trailer envelope may be compressed too (flags 0x81), as
		// connect-go compresses it.
		if !g.gzip {
			return status.Error(codes.Internal, "protocol error: compressed envelope without a grpc-encoding")
		}
		if data, err = gunzip(data, g.limit); err != nil {
			return err
		}
	}
	if flags&flagGRPCWebTrailer != 0 {
		h := parseGRPCWebTrailer(data)
		st, ok := grpcStatusFromHeader(h)
		g.trailer = responseMetadata(nil, h, "", "")
		for _, k := range [...]string{"grpc-status", "grpc-message", "grpc-status-details-bin"} {
			delete(g.trailer, k)
		}
		if !ok {
			return status.Error(codes.Internal, "protocol error: gRPC-Web trailer without grpc-status")
		}
		if st.Code() == codes.OK {
			return io.EOF
		}
		return st.Err()
	}
	if msg == nil {
		// Unimplemented, as connect-go has it: the server does not
		// implement the method as this client knows it.
		return status.Error(codes.Unimplemented, "protocol error: unary response has more than one message")
	}
	if err := g.codec.Unmarshal(data, msg); err != nil {
		return status.Errorf(codes.Internal, "decoding response message: %v", err)
	}
	return nil
}

// invokeGRPCWeb performs a unary call over gRPC-Web.
func (c *Conn) invokeGRPCWeb(ctx context.Context, cm *clientMethod, req, reply proto.Message, ci *transport.CallInfo, compressor string) (header, trailer metadata.MD, err error) {
	hr, body, err := c.grpcWebRequest(ctx, cm, req, ci, compressor)
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
	g := &grpcWebResponse{resp: resp, codec: c.codec, limit: c.readLimit(ci)}
	err = g.begin()
	gotReply := false
	if err == nil {
		if err = g.next(reply); err == nil {
			// The trailer envelope must follow the one message.
			gotReply = true
			err = g.next(nil)
		}
	}
	if err == io.EOF && !gotReply {
		// Status OK without the message, in a trailers-only response or
		// in the body's trailer: Unimplemented, as connect-go has it.
		err = status.Error(codes.Unimplemented, "protocol error: unary response has no message")
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil && !isStatusError(err) {
		err = bodyError(ctx, err, g.limit)
	}
	return g.header, g.trailer, err
}

func isStatusError(err error) bool {
	_, ok := status.FromError(err)
	return ok
}

// newGRPCWebStream opens a server-streaming call over gRPC-Web.
func (c *Conn) newGRPCWebStream(ctx context.Context, desc *grpc.StreamDesc, method string, ci transport.CallInfo, compressor string) (grpc.ClientStream, error) {
	if kind := transport.KindOf(desc); kind != transport.ServerStream {
		err := transport.NotSent(status.Errorf(codes.Unimplemented, "%s is a %s method: gRPC-Web carries unary and server-streaming calls only", method, kind))
		ci.Finish(Name, nil, nil, err)
		return nil, err
	}
	if err := transport.ContextError(ctx); err != nil {
		ci.Finish(Name, nil, nil, err)
		return nil, err
	}
	return &grpcWebClientStream{conn: c, ctx: ctx, method: c.method(method), info: ci, compressor: compressor}, nil
}

// grpcWebClientStream is a server-streaming call over gRPC-Web: the one
// request goes out on CloseSend, as on the Connect protocol.
type grpcWebClientStream struct {
	conn   *Conn
	ctx    context.Context
	method *clientMethod
	info   transport.CallInfo
	req    proto.Message
	closed bool
	// compressor is "" or "gzip": how the request message is compressed.
	compressor string

	resp *grpcWebResponse

	mu       sync.Mutex
	stopCtx  func() bool
	err      error
	trailer  metadata.MD
	finished bool
}

func (s *grpcWebClientStream) Context() context.Context { return s.ctx }

func (s *grpcWebClientStream) SendMsg(m any) error {
	if s.closed || s.req != nil {
		return status.Error(codes.Internal, "SendMsg: a server-streaming call takes exactly one request")
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "SendMsg: %T is not a proto.Message", m)
	}
	s.req = msg
	return nil
}

// CloseSend sends the request and waits for the response header.
func (s *grpcWebClientStream) CloseSend() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.req == nil {
		return s.finish(status.Error(codes.Internal, "CloseSend: no request was sent"))
	}
	hr, body, err := s.conn.grpcWebRequest(s.ctx, s.method, s.req, &s.info, s.compressor)
	if err != nil {
		return s.finish(err)
	}
	defer body.release()
	resp, err := s.conn.httpClient.Do(hr)
	if err != nil {
		return s.finish(transportError(s.ctx, err))
	}
	if err := redirectError(resp); err != nil {
		resp.Body.Close()
		return s.finish(err)
	}
	s.resp = &grpcWebResponse{resp: resp, codec: s.conn.codec, limit: s.conn.readLimit(&s.info)}
	if err := s.resp.begin(); err != nil {
		s.mu.Lock()
		s.trailer = s.resp.trailer
		s.mu.Unlock()
		s.finish(err)
		return nil
	}
	if s.ctx.Done() != nil {
		stop := context.AfterFunc(s.ctx, func() { s.finish(transport.ContextError(s.ctx)) })
		s.mu.Lock()
		s.stopCtx = stop
		s.mu.Unlock()
	}
	return nil
}

func (s *grpcWebClientStream) Header() (metadata.MD, error) {
	if s.resp == nil {
		if err := s.ended(); err != nil && err != io.EOF {
			return nil, err
		}
		return nil, status.Error(codes.Internal, "Header: the request has not been sent (call CloseSend)")
	}
	return s.resp.header, nil
}

func (s *grpcWebClientStream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finished {
		return nil
	}
	return s.trailer
}

func (s *grpcWebClientStream) RecvMsg(m any) error {
	if err := s.ended(); err != nil {
		return err
	}
	// A cancelled call ends now, whatever is already buffered: the
	// context's watcher may not have run yet (as on grpc-go).
	if err := transport.ContextError(s.ctx); err != nil {
		return s.finish(err)
	}
	if s.resp == nil {
		return status.Error(codes.Internal, "RecvMsg: the request has not been sent (call CloseSend)")
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "RecvMsg: %T is not a proto.Message", m)
	}
	if err := s.resp.next(msg); err != nil {
		s.mu.Lock()
		s.trailer = s.resp.trailer
		s.mu.Unlock()
		if err != io.EOF && !isStatusError(err) {
			if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
				err = ctxErr
			} else {
				err = status.Errorf(codes.Internal, "reading response: %v", err)
			}
		}
		return s.finish(err)
	}
	return nil
}

func (s *grpcWebClientStream) ended() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// finish ends the call once, with err (io.EOF: it ended well).
func (s *grpcWebClientStream) finish(err error) error {
	s.mu.Lock()
	if s.finished {
		err = s.err
		s.mu.Unlock()
		return err
	}
	s.finished, s.err = true, err
	stop, trailer := s.stopCtx, s.trailer
	var header metadata.MD
	if s.resp != nil {
		header = s.resp.header
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if s.resp != nil {
		s.resp.resp.Body.Close()
	}
	callErr := err
	if errors.Is(err, io.EOF) {
		callErr = nil
	}
	s.info.Finish(Name, header, trailer, callErr)
	return err
}
