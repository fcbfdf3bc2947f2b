package httptransport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime/transport"
)

// NewStream opens a server-streaming call. The request goes out when the
// stream's send side is closed (CloseSend), which also reports any error
// that kept it from being sent; the response status arrives through
// RecvMsg, as on grpc-go. Client and bidi streaming need a transport that
// streams requests: they fail with Unimplemented.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ci := transport.ReadCallOptions(opts)
	if kind := transport.KindOf(desc); kind != transport.ServerStream {
		err := transport.NotSent(unsupportedStreaming(method, kind))
		if kind == transport.Unary {
			err = transport.NotSent(status.Errorf(codes.Internal, "%s is a unary method: call it with Invoke", method))
		}
		ci.Finish(Name, nil, nil, err)
		return nil, err
	}
	if err := transport.ContextError(ctx); err != nil {
		ci.Finish(Name, nil, nil, err)
		return nil, err
	}
	return &clientStream{conn: c, ctx: ctx, method: c.method(method), info: ci}, nil
}

// clientStream is a server-streaming call: one request, then a response
// read message by message, in Connect envelopes on the Connect route or in
// grpc-gateway's newline-delimited JSON on a REST route.
type clientStream struct {
	conn   *Conn
	ctx    context.Context
	method *clientMethod
	info   transport.CallInfo

	req    proto.Message
	closed bool // CloseSend was called

	resp     *http.Response
	reader   *bufio.Reader
	envelope []byte
	ndjson   *ndjsonReader
	header   metadata.MD
	limit    int64

	mu       sync.Mutex
	stopCtx  func() bool
	err      error // the call's end: io.EOF once it ended well
	trailer  metadata.MD
	finished bool
}

func (s *clientStream) Context() context.Context { return s.ctx }

// SendMsg records the call's one request; it is sent by CloseSend.
func (s *clientStream) SendMsg(m any) error {
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

// CloseSend sends the request and waits for the response to begin. Errors
// that kept the request from being answered at all (no connection, say)
// are returned here and by every later call.
func (s *clientStream) CloseSend() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.req == nil {
		return s.finish(status.Error(codes.Internal, "CloseSend: no request was sent"))
	}
	hr, body, err := s.conn.newRequest(s.ctx, s.method, s.req, &s.info, true)
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
	s.resp = resp
	s.limit = s.conn.readLimit(&s.info)
	if err := s.begin(resp); err != nil {
		s.finish(err)
		return nil
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

// begin checks the response's status and content type.
func (s *clientStream) begin(resp *http.Response) error {
	rest := s.method.rest != nil
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
	s.reader = bufio.NewReader(resp.Body)
	return nil
}

// Header returns the response header once the response has begun.
func (s *clientStream) Header() (metadata.MD, error) {
	if s.resp == nil {
		if err := s.ended(); err != nil && err != io.EOF {
			return nil, err
		}
		return nil, status.Error(codes.Internal, "Header: the request has not been sent (call CloseSend)")
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
// the stream ended well, and the call's status error otherwise.
func (s *clientStream) RecvMsg(m any) error {
	if err := s.ended(); err != nil {
		return err
	}
	if s.resp == nil {
		return status.Error(codes.Internal, "RecvMsg: the request has not been sent (call CloseSend)")
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "RecvMsg: %T is not a proto.Message", m)
	}
	var err error
	if s.ndjson != nil {
		err = s.recvNDJSON(msg)
	} else {
		err = s.recvEnvelope(msg)
	}
	if err != nil {
		return s.finish(err)
	}
	return nil
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
		return status.Error(codes.Internal, "protocol error: compressed message, but no compression was negotiated")
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
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if s.resp != nil {
		s.resp.Body.Close()
	}
	callErr := err
	if errors.Is(err, io.EOF) {
		callErr = nil
	}
	s.info.Finish(Name, header, trailer, callErr)
	return err
}
