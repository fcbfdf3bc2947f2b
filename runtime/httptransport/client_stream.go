package httptransport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime/transport"
)

// NewStream opens a streaming call of any kind.
//
// Client and bidi streams go out at once, on the method's Connect route,
// with a request body that streams: each SendMsg writes one envelope and
// CloseSend ends the body. NewStream returns as soon as the request's
// header is written, without waiting for the server's answer, as on
// grpc-go: a call that could not be sent at all (no connection) fails here
// and matches [runtime.ErrNotSent]; the server's answer, errors included,
// arrives through Header and RecvMsg. Bidi streams need HTTP/2 (https, or
// cleartext with [WithH2C]); over plain http without WithH2C they fail
// here with Unimplemented, marked not sent.
//
// A server stream goes out at CloseSend, after its one SendMsg, on a REST
// route if the method has one; CloseSend likewise returns once the request
// is written.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ci := transport.ReadCallOptions(opts)
	kind := transport.KindOf(desc)
	fail := func(err error) (grpc.ClientStream, error) {
		ci.Finish(Name, nil, nil, err)
		return nil, err
	}
	compressor, err := c.compressorFor(opts)
	if err != nil {
		return fail(err)
	}
	if c.grpcWeb {
		return c.newGRPCWebStream(ctx, desc, method, ci, compressor)
	}
	if kind == transport.Unary {
		return fail(transport.NotSent(status.Errorf(codes.Internal, "%s is a unary method: call it with Invoke", method)))
	}
	if err := transport.ContextError(ctx); err != nil {
		return fail(err)
	}
	s := &clientStream{conn: c, ctx: ctx, method: c.method(method), kind: kind, info: ci, done: make(chan struct{}), compressor: compressor}
	if !kind.ClientStreams() {
		return s, nil
	}
	if kind == transport.BidiStream && !c.fullDuplex() {
		return fail(transport.NotSent(status.Errorf(codes.Unimplemented, "%s is a bidi streaming method, which needs HTTP/2: use an https base URL, or WithH2C for cleartext HTTP/2", method)))
	}
	if err := s.openRequestStream(); err != nil {
		return fail(err)
	}
	return s, nil
}

// fullDuplex reports whether c's requests can stream both ways at once.
// Cleartext HTTP/1.1 cannot be relied on for that (proxies, and most
// servers, read the whole request before answering); https negotiates
// HTTP/2 with any server that speaks it.
func (c *Conn) fullDuplex() bool {
	return c.h2c || c.scheme == "https"
}

// clientStream is a streaming call: a Connect request whose body streams
// (client and bidi streams) or holds one message (server streams, on the
// Connect route or on a REST route), and a response read message by
// message, in Connect envelopes or in grpc-gateway's newline-delimited
// JSON.
type clientStream struct {
	conn       *Conn
	ctx        context.Context
	method     *clientMethod
	kind       transport.StreamKind
	info       transport.CallInfo
	compressor string // "" or "gzip": how request messages are compressed

	// The send side.
	req     proto.Message   // a server stream's one request
	closed  bool            // CloseSend was called
	body    *io.PipeWriter  // client and bidi streams: the request body
	sendBuf []byte          // the envelope being written
	zip     *gzipCompressor // compresses request messages

	// done is closed once the round trip returned: resp or doErr is set.
	done    chan struct{}
	resp    *http.Response
	doErr   error
	cancel  context.CancelFunc // ends the round trip; nil until it starts
	started bool               // the round trip started: done will close

	// The receive side, used by one goroutine at a time, as grpc-go allows.
	begun    bool
	reader   *bufio.Reader
	envelope []byte
	ndjson   *ndjsonReader
	header   metadata.MD
	limit    int64
	unzip    *gzipDecompressor // set when the server compresses messages
	received bool              // a response message arrived (unary-response kinds)

	mu       sync.Mutex
	stopCtx  func() bool
	err      error // the call's end: io.EOF once it ended well
	trailer  metadata.MD
	finished bool
}

func (s *clientStream) Context() context.Context { return s.ctx }

// openRequestStream sends the header of a client or bidi stream's request,
// whose body is written by SendMsg.
func (s *clientStream) openRequestStream() error {
	pr, pw := io.Pipe()
	hr, err := s.conn.newStreamingRequest(s.ctx, s.method, &s.info, s.compressor, pr)
	if err != nil {
		return err
	}
	s.body = pw
	return s.start(hr, nil)
}

// start runs the round trip of hr in the background and waits until its
// header is written, or until it fails. A failure before then means the
// request never left: it is marked not sent so that a fallback may move on.
func (s *clientStream) start(hr *http.Request, body *requestBody) error {
	wrote := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(hr.Context())
	hr = hr.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { once.Do(func() { close(wrote) }) },
	}))
	s.limit = s.conn.readLimit(&s.info)
	s.started = true
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	go func() {
		resp, err := s.conn.httpClient.Do(hr)
		if body != nil {
			body.release()
		}
		s.mu.Lock()
		if err != nil {
			s.doErr = transportError(s.ctx, err)
		} else {
			s.resp = resp
		}
		finished := s.finished
		s.mu.Unlock()
		close(s.done)
		if finished && resp != nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-wrote:
	case <-s.done:
		if s.doErr != nil {
			err := s.doErr
			select {
			case <-wrote:
			default:
				err = transport.NotSent(err)
			}
			if s.body != nil {
				s.body.CloseWithError(err)
			}
			return s.finish(err)
		}
	}
	if s.ctx.Done() != nil {
		// Ends the call, and frees its connection, even if the caller stops
		// reading once the context is done.
		stop := context.AfterFunc(s.ctx, func() { s.finish(transport.ContextError(s.ctx)) })
		s.mu.Lock()
		s.stopCtx = stop
		s.mu.Unlock()
	}
	return nil
}

// SendMsg sends one request message. On a client or bidi stream it is
// written to the request body at once; a server stream's one request is
// sent by CloseSend. As on grpc-go, SendMsg returns io.EOF once the call
// has ended; RecvMsg then returns its status.
func (s *clientStream) SendMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "SendMsg: %T is not a proto.Message", m)
	}
	if s.closed {
		return status.Error(codes.Internal, "SendMsg after CloseSend")
	}
	if s.body == nil {
		if s.req != nil {
			return status.Error(codes.Internal, "SendMsg: a server-streaming call takes exactly one request")
		}
		s.req = msg
		return nil
	}
	if err := s.ended(); err != nil {
		return io.EOF
	}
	b, err := s.conn.appendEnvelope(s.sendBuf[:0], msg, s.compressor, &s.zip)
	if err != nil {
		return err
	}
	if max := s.info.MaxSendMsgSize; max > 0 && len(b)-envelopePrefixLen > max {
		return status.Errorf(codes.ResourceExhausted, "request message of %d bytes is larger than the limit of %d bytes", len(b)-envelopePrefixLen, max)
	}
	s.sendBuf = b
	if _, err := s.body.Write(b); err != nil {
		// The round trip ended and closed the body: the call's status is
		// RecvMsg's to report.
		return io.EOF
	}
	if cap(s.sendBuf) > maxPooledBuffer {
		s.sendBuf = nil // one huge message does not pin its memory
	}
	return nil
}

// CloseSend ends the request. On a server stream it sends the one request
// and returns once it is written: errors that kept it from leaving (no
// connection, say) are returned here and by every later call.
func (s *clientStream) CloseSend() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.body != nil {
		return s.body.Close()
	}
	if s.req == nil {
		return s.finish(status.Error(codes.Internal, "CloseSend: no request was sent"))
	}
	hr, body, err := s.conn.newRequest(s.ctx, s.method, s.req, &s.info, true, s.compressor)
	if err != nil {
		return s.finish(err)
	}
	return s.start(hr, body)
}

// await waits for the response to begin and checks its status and content
// type, once.
func (s *clientStream) await() error {
	if s.begun {
		return nil
	}
	if !s.started {
		if err := s.ended(); err != nil {
			return err
		}
		return status.Error(codes.Internal, "the request has not been sent (call CloseSend)")
	}
	select {
	case <-s.done:
	case <-s.ctx.Done():
		// The round trip ends too, and frees what it holds.
		return s.finish(transport.ContextError(s.ctx))
	}
	if err := s.ended(); err != nil {
		return err
	}
	s.begun = true
	if s.doErr != nil {
		return s.finish(s.doErr)
	}
	if err := redirectError(s.resp); err != nil {
		return s.finish(err)
	}
	if err := s.begin(s.resp); err != nil {
		return s.finish(err)
	}
	return nil
}

// begin checks the response's status and content type.
func (s *clientStream) begin(resp *http.Response) error {
	rest := s.method.rest != nil && s.body == nil
	if rest {
		s.header = responseMetadata(nil, resp.Header, gatewayMetadataPrefix, "")
	} else {
		s.header = responseMetadata(nil, resp.Header, "", "")
	}
	ct := resp.Header.Get(headerContentType)
	if rest {
		s.ndjson = &ndjsonReader{r: bufio.NewReader(resp.Body), limit: s.limit}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			// grpc-gateway sends an error before the first message as an
			// {"error": ...} chunk under the error's HTTP status.
			if payload, isErr, err := s.ndjson.next(); err == nil && isErr {
				if st, _, ok := statusFromJSON(payload); ok && st.Code() != codes.OK {
					return st.Err()
				}
			}
			return status.New(codeFromHTTPStatus(resp.StatusCode), "HTTP status "+resp.Status).Err()
		}
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		buf := getBuffer()
		defer putBuffer(buf)
		_ = readLimited(buf, resp.Body, 64<<10)
		return statusFromResponse(resp, buf.Bytes()).Err()
	}
	name, streaming, ok := codecNameFromContentType(ct)
	if !ok {
		return notConnectResponse(ct)
	}
	if !streaming || name != s.conn.codec.Name() {
		return status.Errorf(codes.Internal, "unexpected response content type %q for a %s stream", ct, s.conn.codec.Name())
	}
	switch enc := resp.Header.Get(headerConnectEncoding); enc {
	case "", "identity":
	case "gzip":
		s.unzip = new(gzipDecompressor)
	default:
		return status.Errorf(codes.Internal, "protocol error: the server compressed the stream with %q, which was not offered", enc)
	}
	s.reader = bufio.NewReader(resp.Body)
	return nil
}

// Header returns the response header. It waits for the response to begin,
// and returns the call's error if it failed before that.
func (s *clientStream) Header() (metadata.MD, error) {
	if err := s.await(); err != nil {
		if errors.Is(err, io.EOF) {
			return s.header, nil
		}
		return nil, err
	}
	return s.header, nil
}

// Trailer returns the trailer once RecvMsg has returned an error.
func (s *clientStream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finished {
		return nil
	}
	return s.trailer
}

// RecvMsg reads the next response message into m. It returns io.EOF once
// the stream ended well, and the call's status error otherwise. On a
// client stream, whose one response ends the call, it reads on to the end
// of the stream, so that the call's status and trailer are known when it
// returns, as on grpc-go.
func (s *clientStream) RecvMsg(m any) error {
	if err := s.ended(); err != nil {
		return err
	}
	// A cancelled call ends now, whatever is already buffered: the
	// context's watcher may not have run yet (as on grpc-go).
	if err := transport.ContextError(s.ctx); err != nil {
		return s.finish(err)
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "RecvMsg: %T is not a proto.Message", m)
	}
	if err := s.await(); err != nil {
		return err
	}
	var err error
	if s.ndjson != nil {
		err = s.recvNDJSON(msg)
	} else {
		err = s.recvEnvelope(msg)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && !s.kind.ServerStreams() && !s.received {
			// Unimplemented, as connect-go has it: the server does not
			// implement the method as this client knows it.
			err = status.Error(codes.Unimplemented, "protocol error: the stream ended without a response message")
		}
		return s.finish(err)
	}
	if s.kind.ServerStreams() {
		return nil
	}
	s.received = true
	switch err := s.recvEnvelope(nil); {
	case errors.Is(err, io.EOF):
		s.finish(io.EOF)
		return nil
	case err != nil:
		return s.finish(err)
	default:
		return s.finish(status.Error(codes.Unimplemented, "protocol error: more than one response message for a client-streaming method"))
	}
}

func (s *clientStream) recvEnvelope(msg proto.Message) error {
	flags, data, err := readEnvelope(s.reader, s.envelope[:0], s.limit)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return s.readError(errors.New("stream ended without an end-of-stream message"))
		}
		if _, ok := status.FromError(err); ok {
			return err
		}
		return s.readError(err)
	}
	s.envelope = data[:0]
	if flags&flagCompressed != 0 {
		if s.unzip == nil {
			return status.Error(codes.Internal, "protocol error: compressed message, but no compression was negotiated")
		}
		if data, err = s.unzip.decompress(data, s.limit); err != nil {
			return err
		}
	}
	if flags&flagEndStream != 0 {
		endErr, trailer := parseEndStream(data)
		s.mu.Lock()
		s.trailer = trailer
		s.mu.Unlock()
		if endErr != nil {
			return endErr
		}
		return io.EOF
	}
	if msg == nil {
		return nil // a message where none was expected: the caller fails it
	}
	if err := s.conn.codec.Unmarshal(data, msg); err != nil {
		return status.Errorf(codes.Internal, "decoding response message: %v", err)
	}
	return nil
}

func (s *clientStream) recvNDJSON(msg proto.Message) error {
	payload, isErr, err := s.ndjson.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.mu.Lock()
			s.trailer = responseMetadata(nil, s.resp.Trailer, gatewayTrailerPrefix, "")
			s.mu.Unlock()
			return io.EOF
		}
		if _, ok := status.FromError(err); ok {
			return err
		}
		return s.readError(err)
	}
	if isErr {
		st, _, ok := statusFromJSON(payload)
		if !ok || st.Code() == codes.OK {
			return status.Errorf(codes.Internal, "protocol error: invalid error chunk %.64q", payload)
		}
		return st.Err()
	}
	rb := s.method.rest
	if err := rb.decodeResponseBody(payload, s.conn.jsonCodec, msg); err != nil {
		return status.Errorf(codes.Internal, "decoding response message: %v", err)
	}
	return nil
}

func (s *clientStream) readError(err error) error {
	if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
		return ctxErr
	}
	return status.Errorf(codes.Internal, "reading response: %v", err)
}

func (s *clientStream) ended() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// finish ends the call once, with err (io.EOF: it ended well), and returns
// the call's end, which is err unless the call had ended before.
func (s *clientStream) finish(err error) error {
	s.mu.Lock()
	if s.finished {
		err = s.err
		s.mu.Unlock()
		return err
	}
	s.finished = true
	s.err = err
	header, trailer, stop := s.header, s.trailer, s.stopCtx
	// A round trip still running closes its response itself when it ends.
	resp, cancel := s.resp, s.cancel
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if s.body != nil {
		// Unblocks a SendMsg waiting for the transport to read.
		s.body.CloseWithError(io.EOF)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if cancel != nil {
		cancel()
	}
	callErr := err
	if errors.Is(err, io.EOF) {
		callErr = nil
	}
	s.info.Finish(Name, header, trailer, callErr)
	return err
}
