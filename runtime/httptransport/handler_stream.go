package httptransport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

var ndjsonResultPrefix, ndjsonErrorPrefix = []byte(`{"result":`), []byte(`{"error":`)

// serverStream is the handler's end of a server-streaming call: its one
// request, then each message written and flushed as it is sent, as a
// Connect envelope or a grpc-gateway {"result": ...} line.
type serverStream struct {
	ctx     context.Context
	w       http.ResponseWriter
	rc      *http.ResponseController
	method  *transport.MethodDesc
	call    *transport.ServerCall
	rest    *restBinding // nil on the Connect route
	codec   runtime.Codec
	codecCT string // the Connect codec name, on the Connect route

	req         proto.Message
	received    bool
	wroteHeader bool
	buf         bytes.Buffer

	// Client and bidi streams: the request body, read message by message.
	body     *bufio.Reader
	envelope []byte
	limit    int64
	unzip    *gzipDecompressor // the client compresses its messages

	// Compression of response messages on the Connect route: negotiated by
	// the client's Connect-Accept-Encoding.
	gzip        bool
	compressMin int
	zip         *gzipCompressor
}

func newServerStream(w http.ResponseWriter, m *transport.MethodDesc, rest *restBinding, codec runtime.Codec, codecName string) *serverStream {
	s := &serverStream{w: w, rc: http.NewResponseController(w), method: m, rest: rest, codec: codec, codecCT: codecName}
	s.call = transport.NewServerCall(m.FullMethod, s.sendHeader)
	return s
}

// serveConnectStream serves a server-streaming method on its Connect route.
func (h *Handler) serveConnectStream(w http.ResponseWriter, r *http.Request, hm *handlerMethod, codec runtime.Codec, codecName string) {
	m := hm.handler.Method
	s := newServerStream(w, m, nil, codec, codecName)
	s.gzip = acceptsGzip(r.Header[headerConnectAcceptEncoding])
	s.compressMin = h.compressMinBytes()
	ctx, cancel, err := h.callContext(r, s.call, false)
	if cancel != nil {
		defer cancel()
	}
	if err == nil {
		err = s.requestEncoding(r)
	}
	var req proto.Message
	switch {
	case err != nil:
	case m.Kind.ClientStreams():
		if m.Kind == transport.BidiStream && r.ProtoMajor == 1 {
			// HTTP/1.1 lets a Go server answer while the request streams
			// only if asked: a bidi call's answers must not wait for the
			// request's end. (HTTP/2 always can.) Such a connection reads
			// its next request only after this body is read to its end,
			// which the method may not have done.
			if s.rc.EnableFullDuplex() == nil {
				defer func() {
					_ = s.rc.Flush()
					// A client that neither ends its request nor closes
					// the connection holds it no longer than this.
					_ = s.rc.SetReadDeadline(time.Now().Add(drainTimeout))
					drain(r.Body, h.readMax)
				}()
			}
		}
		s.body = bufio.NewReader(r.Body)
		s.limit = h.readMax
	default:
		req, err = h.readEnvelopedRequest(r, m, codec)
	}
	if err != nil {
		writeConnectStreamError(w, nil, nil, codecName, err)
		return
	}
	s.serve(ctx, hm.handler, req, false)
}

// drainTimeout bounds how long a bidi call over HTTP/1.1 waits, after the
// method returned, for the client to end its request.
const drainTimeout = 5 * time.Second

// drain reads what is left of a request body, up to limit bytes, and
// closes it. The response is flushed first: the client, which sees the
// call's end, then ends its request.
func drain(body io.ReadCloser, limit int64) {
	if limit <= 0 {
		limit = defaultReadMaxBytes
	}
	_, _ = io.CopyN(io.Discard, body, limit)
	_ = body.Close()
}

// requestEncoding checks the encoding a client compresses its messages
// with: identity or gzip.
func (s *serverStream) requestEncoding(r *http.Request) error {
	switch enc := r.Header.Get(headerConnectEncoding); enc {
	case "", encodingIdentity:
		return nil
	case encodingGzip:
		s.unzip = new(gzipDecompressor)
		return nil
	default:
		return status.Errorf(codes.Unimplemented, "unknown %s %q: this server accepts gzip and identity", headerConnectEncoding, enc)
	}
}

// recvEnvelope reads the next request message of a client or bidi stream.
func (s *serverStream) recvEnvelope(dst proto.Message) error {
	flags, data, err := readEnvelope(s.body, s.envelope[:0], s.limit)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
			return ctxErr
		}
		if st, ok := status.FromError(err); ok {
			if st.Code() == codes.Internal {
				// A truncated envelope is the client's fault, not the
				// server's: connect-go answers it with InvalidArgument too.
				return status.Error(codes.InvalidArgument, st.Message())
			}
			return err
		}
		return status.Errorf(codes.InvalidArgument, "reading request: %v", err)
	}
	s.envelope = data[:0]
	if flags&flagEndStream != 0 {
		return status.Error(codes.InvalidArgument, "protocol error: end-of-stream flag on a request message")
	}
	if flags&flagCompressed != 0 {
		if s.unzip == nil {
			// Internal, as the Connect protocol and connect-go have it.
			return status.Error(codes.Internal, "protocol error: compressed message, but the request's Connect-Content-Encoding is identity")
		}
		if data, err = s.unzip.decompress(data, s.limit); err != nil {
			return err
		}
	}
	if err := s.codec.Unmarshal(data, dst); err != nil {
		return decodeError(s.method.FullMethod+" request", err)
	}
	return nil
}

// readEnvelopedRequest reads the one enveloped request of a Connect server
// stream.
func (h *Handler) readEnvelopedRequest(r *http.Request, m *transport.MethodDesc, codec runtime.Codec) (proto.Message, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	// The envelope prefix counts toward the limit.
	limit := h.readMax
	if limit > 0 {
		limit += envelopePrefixLen
	}
	if h.readMax > 0 && r.ContentLength > limit {
		return nil, status.Errorf(codes.ResourceExhausted, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, h.readMax)
	}
	if err := readLimited(buf, r.Body, limit); err != nil {
		if err == errTooLarge {
			return nil, status.Errorf(codes.ResourceExhausted, "request larger than the limit of %d bytes", h.readMax)
		}
		return nil, status.Errorf(codes.InvalidArgument, "reading request body: %v", err)
	}
	flags, data, err := splitRequestEnvelope(buf.Bytes(), h.readMax)
	if err == io.EOF {
		return nil, status.Errorf(codes.Unimplemented, "%s takes one request message; the request body is empty", m.FullMethod)
	}
	if err != nil {
		return nil, err
	}
	if flags&flagCompressed != 0 {
		// requestEncoding refused any encoding but identity and gzip, so
		// this is a message flagged compressed in an identity stream: a
		// malformed message, Internal as the Connect protocol has it.
		if r.Header.Get(headerConnectEncoding) != encodingGzip {
			return nil, status.Error(codes.Internal, "protocol error: compressed message, but the request's Connect-Content-Encoding is identity")
		}
		if data, err = gunzip(data, h.readMax); err != nil {
			return nil, err
		}
	}
	if flags&flagEndStream != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%s takes one request message before the end of the stream", m.FullMethod)
	}
	req := m.NewRequest()
	if err := codec.Unmarshal(data, req); err != nil {
		return nil, decodeError(m.FullMethod+" request", err)
	}
	return req, nil
}

// serve runs the method and ends the stream with its status.
func (s *serverStream) serve(ctx context.Context, handler *transport.Handler, req proto.Message, trailers bool) {
	s.ctx, s.req = ctx, req
	err := handler.Stream(s)
	trailer := s.call.Trailer()
	if s.rest == nil {
		if !s.wroteHeader {
			s.writeHeader(s.call.Header(), http.StatusOK)
		}
		end := marshalEndStream(err, trailer)
		s.buf.Reset()
		s.buf.Write(appendEnvelopeHeader(s.buf.AvailableBuffer(), flagEndStream, len(end)))
		s.buf.Write(end)
		_, _ = s.w.Write(s.buf.Bytes())
		return
	}
	if err != nil {
		st := status.Convert(err)
		if !s.wroteHeader {
			s.writeHeader(s.call.Header(), httpStatusFromCode(st.Code()))
		}
		s.buf.Reset()
		s.buf.Write(ndjsonErrorPrefix)
		s.buf.Write(marshalStatus(s.codec, st))
		s.buf.WriteString("}\n")
		_, _ = s.w.Write(s.buf.Bytes())
	} else if !s.wroteHeader {
		s.writeHeader(s.call.Header(), http.StatusOK)
	}
	if trailers && len(trailer) > 0 {
		// A flushed response is chunked, so the trailers can follow it.
		_ = s.rc.Flush()
		writeTrailers(s.w, gatewayTrailerPrefix, trailer)
	}
}

func (s *serverStream) writeHeader(md metadata.MD, httpStatus int) {
	s.wroteHeader = true
	hdr := s.w.Header()
	if s.rest == nil {
		writeMetadata(s.w, "", md)
		hdr[headerContentType] = []string{connectStreamingPrefix + s.codecCT}
		hdr[headerConnectAcceptEncoding] = gzipValue
		if s.gzip {
			hdr[headerConnectEncoding] = gzipValue
		}
	} else {
		writeMetadata(s.w, gatewayMetadataPrefix, md)
		hdr[headerContentType] = jsonContentType
	}
	s.w.WriteHeader(httpStatus)
}

// sendHeader is what grpc.SendHeader reaches: the header goes out at once.
func (s *serverStream) sendHeader(md metadata.MD) error {
	if s.wroteHeader {
		return nil
	}
	s.writeHeader(md, http.StatusOK)
	return s.flush()
}

func (s *serverStream) flush() error {
	if err := s.rc.Flush(); err != nil {
		return s.writeError(err)
	}
	return nil
}

func (s *serverStream) writeError(err error) error {
	if ctxErr := transport.ContextError(s.ctx); ctxErr != nil {
		return ctxErr
	}
	return status.Errorf(codes.Unavailable, "writing response: %v", err)
}

func (s *serverStream) Context() context.Context        { return s.ctx }
func (s *serverStream) SetHeader(md metadata.MD) error  { return s.call.SetHeader(md) }
func (s *serverStream) SendHeader(md metadata.MD) error { return s.call.SendHeader(md) }
func (s *serverStream) SetTrailer(md metadata.MD)       { _ = s.call.SetTrailer(md) }

// RecvMsg hands the handler the next request message: on a client or bidi
// stream read from the body as it arrives, on a server stream the call's
// one request. It returns io.EOF after the last.
func (s *serverStream) RecvMsg(m any) error {
	dst, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "RecvMsg: %T is not a proto.Message", m)
	}
	if s.body != nil {
		return s.recvEnvelope(dst)
	}
	if s.received {
		return io.EOF
	}
	s.received = true
	proto.Reset(dst)
	proto.Merge(dst, s.req)
	return nil
}

// SendMsg writes one response message and flushes it to the client.
func (s *serverStream) SendMsg(m any) error {
	if err := transport.ContextError(s.ctx); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "SendMsg: %T is not a proto.Message", m)
	}
	if !s.wroteHeader {
		s.writeHeader(s.call.Header(), http.StatusOK)
	}
	s.buf.Reset()
	var err error
	if s.rest == nil {
		b := appendEnvelopeHeader(s.buf.AvailableBuffer(), 0, 0)
		b, err = s.codec.MarshalAppend(b, msg)
		if err == nil {
			if s.gzip && len(b)-envelopePrefixLen >= s.compressMin {
				if s.zip == nil {
					s.zip = new(gzipCompressor)
				}
				z := s.zip.compress(b[envelopePrefixLen:])
				b = append(b[:envelopePrefixLen], z...)
				b[0] = flagCompressed
			}
			putLength(b, len(b)-envelopePrefixLen)
			s.buf.Write(b)
		}
	} else {
		b := append(s.buf.AvailableBuffer(), ndjsonResultPrefix...)
		b, err = s.rest.appendResponseBody(b, s.codec, msg)
		if err == nil {
			s.buf.Write(append(b, '}', '\n'))
		}
	}
	if err != nil {
		return status.Errorf(codes.Internal, "encoding %s response: %v", s.method.FullMethod, err)
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return s.writeError(err)
	}
	return s.flush()
}
