package httptransport

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// grpcStream is the handler's end of one gRPC or gRPC-Web call, of any
// kind: it reads request envelopes from the body as the method asks for
// them and writes response envelopes as the method sends them, so a bidi
// call over HTTP/2 runs full duplex. It is the grpc.ServerStream of
// streaming methods; unary methods use its read and write halves directly.
//
// As on grpc-go, RecvMsg and SendMsg may run in two goroutines at once:
// each has its own buffer, and only the sending side touches w.
type grpcStream struct {
	ctx    context.Context
	w      http.ResponseWriter
	rc     *http.ResponseController
	method *transport.MethodDesc
	call   *transport.ServerCall
	form   grpcForm
	codec  runtime.Codec

	body     io.Reader
	readMax  int64
	gzipIn   bool // the client compressed its messages with gzip
	gzipOut  bool // compress response messages of grpcCompressMinBytes or more
	recvBuf  []byte
	received int

	wroteHeader bool
	sendBuf     *bytes.Buffer // pooled: held for the call
}

// serveGRPC serves a gRPC or gRPC-Web request for hm.
func (h *Handler) serveGRPC(w http.ResponseWriter, r *http.Request, hm *handlerMethod, f grpcForm) {
	m := hm.handler.Method
	s := &grpcStream{ctx: r.Context(), w: w, rc: http.NewResponseController(w), method: m, form: f, body: r.Body, readMax: h.readMax}
	s.call = transport.NewServerCall(m.FullMethod, s.sendHeader)
	// Both buffers come from the pool, as on the Connect routes: a fresh
	// buffer per call would cost two message-sized allocations.
	s.sendBuf = getBuffer()
	defer putBuffer(s.sendBuf)
	recvBuf := getBuffer()
	s.recvBuf = recvBuf.AvailableBuffer()
	defer func() {
		// Keep what readEnvelope grew the buffer to for the next call.
		if cap(s.recvBuf) > recvBuf.Cap() {
			*recvBuf = *bytes.NewBuffer(s.recvBuf[:0])
		}
		putBuffer(recvBuf)
	}()
	if err := h.grpcRequestError(r, m, f); err != nil {
		s.end(err, nil)
		return
	}
	s.codec = h.codecByName(f.codecName)
	s.gzipIn = r.Header.Get(headerGRPCEncoding) == "gzip"
	s.gzipOut = s.gzipIn && acceptsGzip(r.Header[headerGRPCAcceptEncoding])
	ctx, cancel, err := h.callContext(r, s.call, false)
	if cancel != nil {
		defer cancel()
	}
	s.ctx = ctx
	if err == nil && f.text {
		err = s.decodeTextBody(r)
	}
	if err != nil {
		s.end(err, nil)
		return
	}
	if m.Kind == transport.Unary {
		s.serveUnary(hm.handler)
		return
	}
	err = hm.handler.Stream(s)
	s.end(err, s.call.Trailer())
}

// grpcRequestError refuses a request the protocol does not allow: another
// HTTP method, gRPC over HTTP/1, a codec or an encoding this handler does
// not have, a client-streaming method over gRPC-Web.
func (h *Handler) grpcRequestError(r *http.Request, m *transport.MethodDesc, f grpcForm) error {
	switch {
	case r.Method != http.MethodPost:
		return status.Errorf(codes.Unimplemented, "%s: the gRPC protocols take POST, not %s", m.FullMethod, r.Method)
	case !f.web && r.ProtoMajor < 2:
		return status.Errorf(codes.Unimplemented, "gRPC requires HTTP/2; this request came over %s (use gRPC-Web or Connect over HTTP/1.1)", r.Proto)
	case f.codecName != "proto" && f.codecName != "json":
		return status.Errorf(codes.Internal, "no codec for content type %q: this server has proto and json", r.Header.Get(headerContentType))
	case f.web && m.Kind.ClientStreams():
		return status.Errorf(codes.Unimplemented, "%s is a %s method: gRPC-Web carries unary and server-streaming calls only", m.FullMethod, m.Kind)
	}
	switch enc := r.Header.Get(headerGRPCEncoding); enc {
	case "", "identity", "gzip":
	default:
		return status.Errorf(codes.Unimplemented, "unknown grpc-encoding %q: this server accepts gzip and identity", enc)
	}
	return nil
}

// decodeTextBody reads a gRPC-Web text body, bounded as a binary one is
// (plus base64's third), and replaces the body with what it decodes to.
func (s *grpcStream) decodeTextBody(r *http.Request) error {
	buf := getBuffer()
	defer putBuffer(buf)
	limit := s.readMax
	if limit > 0 {
		limit = (limit+envelopePrefixLen)*4/3 + 4
	}
	if err := readLimited(buf, r.Body, limit); err != nil {
		if err == errTooLarge {
			return status.Errorf(codes.ResourceExhausted, "request body is larger than the limit of %d bytes", s.readMax)
		}
		return status.Errorf(codes.InvalidArgument, "reading request body: %v", err)
	}
	decoded, err := decodeBase64Chunks(bytes.TrimSpace(buf.Bytes()))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "grpc-web-text request body: invalid base64: %v", err)
	}
	s.body = bytes.NewReader(decoded)
	return nil
}

// serveUnary reads the one request, calls the method and writes its
// response.
func (s *grpcStream) serveUnary(handler *transport.Handler) {
	resp, err := handler.Unary(s.ctx, func(msg any) error {
		return s.recv(msg.(proto.Message), true)
	})
	if err == nil {
		err = s.send(resp)
	}
	s.end(err, s.call.Trailer())
}

// recv reads the next request envelope into msg. It returns io.EOF at the
// end of the requests. unary: msg must be the first and only request.
func (s *grpcStream) recv(msg proto.Message, unary bool) error {
	flags, data, err := readEnvelope(s.body, s.recvBuf[:0], s.readMax)
	if err != nil {
		if err == io.EOF {
			if unary {
				return status.Errorf(codes.Unimplemented, "%s takes one request message; the request ended without one", s.method.FullMethod)
			}
			return io.EOF
		}
		return s.readError(err)
	}
	s.recvBuf = data[:0]
	if flags&flagCompressed != 0 {
		if !s.gzipIn {
			return status.Error(codes.Internal, "compressed request message without a grpc-encoding")
		}
		if data, err = gunzip(data, s.readMax); err != nil {
			return err
		}
	}
	if err := s.codec.Unmarshal(data, msg); err != nil {
		return decodeError(s.method.FullMethod+" request", err)
	}
	s.received++
	if unary {
		// The request must end after its message, as grpc-go requires.
		var one [1]byte
		if n, err := io.ReadFull(s.body, one[:]); n > 0 {
			return status.Errorf(codes.Unimplemented, "%s is unary: the request has more than one message", s.method.FullMethod)
		} else if err != io.EOF && err != io.ErrUnexpectedEOF {
			return s.readError(err)
		}
	}
	return nil
}

func (s *grpcStream) readError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
		return ctxErr
	}
	return status.Errorf(codes.Internal, "reading request: %v", err)
}

// send writes one response envelope, compressed if gzip was negotiated
// and the message is large enough to gain from it.
func (s *grpcStream) send(msg proto.Message) error {
	if !s.wroteHeader {
		s.writeHeader(s.call.Header())
	}
	s.sendBuf.Reset()
	b := appendEnvelopeHeader(s.sendBuf.AvailableBuffer(), 0, 0)
	b, err := s.codec.MarshalAppend(b, msg)
	if err != nil {
		return status.Errorf(codes.Internal, "encoding %s response: %v", s.method.FullMethod, err)
	}
	if cap(b) > s.sendBuf.Cap() {
		// Keep the grown buffer: the next message, or the next call
		// through the pool, reuses it.
		*s.sendBuf = *bytes.NewBuffer(b[:0])
	}
	if s.gzipOut && len(b)-envelopePrefixLen >= grpcCompressMinBytes {
		zbuf := getBuffer()
		defer putBuffer(zbuf)
		z := appendEnvelopeHeader(zbuf.AvailableBuffer(), flagCompressed, 0)
		z = appendCompressed(z, b[envelopePrefixLen:])
		b = append(b[:0], z...)
	}
	putLength(b, len(b)-envelopePrefixLen)
	return s.write(b)
}

// write writes bytes of the body: as they are, or in base64 for
// gRPC-Web text, each write a padded chunk of its own.
func (s *grpcStream) write(b []byte) error {
	if s.form.text {
		b = base64.StdEncoding.AppendEncode(nil, b)
	}
	if _, err := s.w.Write(b); err != nil {
		if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
			return ctxErr
		}
		return status.Errorf(codes.Unavailable, "writing response: %v", err)
	}
	return nil
}

// writeHeader sends the response header: the method's metadata, the
// content type and the encodings.
func (s *grpcStream) writeHeader(md metadata.MD) {
	s.wroteHeader = true
	hdr := s.w.Header()
	writeMetadata(s.w, "", withoutReserved(md))
	s.setProtocolHeaders(hdr)
	s.w.WriteHeader(http.StatusOK)
}

func (s *grpcStream) setProtocolHeaders(hdr http.Header) {
	hdr[headerContentType] = []string{s.form.contentType}
	hdr[headerGRPCAcceptEncoding] = grpcAcceptEncodingValue
	if s.gzipOut {
		hdr[headerGRPCEncoding] = grpcEncodingGzip
	}
}

// sendHeader is what grpc.SendHeader reaches: the header goes out at once.
func (s *grpcStream) sendHeader(md metadata.MD) error {
	if s.wroteHeader {
		return nil
	}
	s.writeHeader(md)
	return s.flush()
}

func (s *grpcStream) flush() error {
	if err := s.rc.Flush(); err != nil {
		if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
			return ctxErr
		}
		return status.Errorf(codes.Unavailable, "writing response: %v", err)
	}
	return nil
}

// end ends the call with err's status (nil: OK) and trailer. An end
// before anything was written, with no header metadata set, is a
// trailers-only response over gRPC: the status in the HTTP header, no
// body. Header metadata the method set goes out in a header block of its
// own first, as grpc-go's server sends it: grpc-go's client reads no
// Header() from a trailers-only response. gRPC-Web always ends with its
// trailer envelope.
func (s *grpcStream) end(err error, trailer metadata.MD) {
	st := status.Convert(err)
	if err == nil {
		st = status.New(codes.OK, "")
	}
	trailer = withoutReserved(trailer)
	hdr := s.w.Header()
	var header metadata.MD
	if s.call != nil && !s.wroteHeader {
		header = withoutReserved(s.call.Header())
	}
	if !s.wroteHeader && !s.form.web && len(header) == 0 {
		writeMetadata(s.w, "", trailer)
		s.form.contentType = cmp.Or(s.form.contentType, grpcContentTypePrefix)
		s.gzipOut = false
		s.setProtocolHeaders(hdr)
		setGRPCStatus(hdr, "", st)
		s.w.WriteHeader(http.StatusOK)
		s.wroteHeader = true
		return
	}
	if !s.wroteHeader {
		if s.form.web {
			s.form.contentType = cmp.Or(s.form.contentType, grpcWebContentTypePrefix)
		} else {
			s.form.contentType = cmp.Or(s.form.contentType, grpcContentTypePrefix)
		}
		s.writeHeader(header)
	}
	if s.form.web {
		s.sendBuf.Reset()
		_ = s.write(appendGRPCWebTrailer(s.sendBuf.AvailableBuffer(), st, trailer))
		return
	}
	setGRPCStatus(hdr, http.TrailerPrefix, st)
	writeTrailers(s.w, "", trailer)
}

func (s *grpcStream) Context() context.Context        { return s.ctx }
func (s *grpcStream) SetHeader(md metadata.MD) error  { return s.call.SetHeader(md) }
func (s *grpcStream) SendHeader(md metadata.MD) error { return s.call.SendHeader(md) }
func (s *grpcStream) SetTrailer(md metadata.MD)       { _ = s.call.SetTrailer(md) }

// RecvMsg reads the next request message; io.EOF once the client closed
// its side. A server-streaming method gets exactly one message.
func (s *grpcStream) RecvMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "RecvMsg: %T is not a proto.Message", m)
	}
	if !s.method.Kind.ClientStreams() {
		if s.received > 0 {
			return io.EOF
		}
		return s.recv(msg, true)
	}
	err := s.recv(msg, false)
	if err != nil && !errors.Is(err, io.EOF) {
		if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
			return ctxErr
		}
	}
	return err
}

// SendMsg writes one response message and flushes it to the client.
func (s *grpcStream) SendMsg(m any) error {
	if err := transport.ContextError(s.ctx); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "SendMsg: %T is not a proto.Message", m)
	}
	if err := s.send(msg); err != nil {
		return err
	}
	return s.flush()
}

// grpcRoutingError answers a gRPC or gRPC-Web request for a method no
// handler serves: Unimplemented, as grpc-go answers it.
func grpcRoutingError(w http.ResponseWriter, r *http.Request, f grpcForm) {
	s := &grpcStream{w: w, ctx: r.Context(), form: f, sendBuf: new(bytes.Buffer)}
	s.end(status.Errorf(codes.Unimplemented, "unknown method %s", r.URL.Path), nil)
}
