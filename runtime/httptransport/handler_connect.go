package httptransport

import (
	"bytes"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

var (
	acceptPostUnary     = []string{"application/json, application/proto"}
	acceptPostStreaming = []string{"application/connect+json, application/connect+proto"}
)

// serveConnect serves a Connect route.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request, hm *handlerMethod) {
	if r.Method != http.MethodPost && !(r.Method == http.MethodGet && hm.get) {
		connectMethodNotAllowed(w, hm)
		return
	}
	req, err := readConnectForm(r)
	if err != nil {
		writeConnectUnaryError(w, nil, nil, err)
		return
	}
	m := hm.handler.Method
	if !req.ok || req.streaming != (m.Kind != transport.Unary) {
		writeUnsupportedMediaType(w, m.Kind != transport.Unary)
		return
	}
	if err := connectRequestError(r, hm); err != nil {
		req.writeError(w, err)
		return
	}
	codec := h.codecByName(req.codecName)
	if req.streaming {
		h.serveConnectStream(w, r, hm, codec, req.codecName)
		return
	}
	h.serveConnectUnary(w, r, hm, codec, req)
}

// connectForm is what a Connect request's method and headers say of its
// form: the codec, whether it streams, and for the GET form the message.
type connectForm struct {
	codecName  string
	streaming  bool
	ok         bool // the content type is one of Connect's
	getMessage []byte
}

// readConnectForm reads the form of r: a POST by its content type, a GET
// by its query parameters.
func readConnectForm(r *http.Request) (connectForm, error) {
	var f connectForm
	if r.Method == http.MethodGet {
		var err error
		f.codecName, f.getMessage, err = connectGetRequest(r)
		f.ok = err == nil
		return f, err
	}
	f.codecName, f.streaming, f.ok = codecNameFromContentType(r.Header.Get(headerContentType))
	return f, nil
}

// writeError answers a request of form f with err, in the shape the form
// expects: an end-of-stream message for a stream, an error JSON otherwise.
func (f connectForm) writeError(w http.ResponseWriter, err error) {
	if f.streaming {
		writeConnectStreamError(w, nil, nil, f.codecName, err)
	} else {
		writeConnectUnaryError(w, nil, nil, err)
	}
}

// connectMethodNotAllowed answers an HTTP method the route does not take:
// 405 with an Allow header and no body, as the Connect protocol and
// connect-go have it (a Connect client derives Unknown from the status).
func connectMethodNotAllowed(w http.ResponseWriter, hm *handlerMethod) {
	w.Header().Set(headerAllow, hm.allow)
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// writeUnsupportedMediaType answers a content type that is not Connect's
// for the method's kind, naming the ones that are.
func writeUnsupportedMediaType(w http.ResponseWriter, streaming bool) {
	if streaming {
		w.Header()[headerAcceptPost] = acceptPostStreaming
	} else {
		w.Header()[headerAcceptPost] = acceptPostUnary
	}
	w.WriteHeader(http.StatusUnsupportedMediaType)
}

// connectRequestError refuses a request in a protocol version this
// handler does not speak.
func connectRequestError(r *http.Request, hm *handlerMethod) error {
	if v := r.Header[headerConnectVersion]; len(v) > 0 && v[0] != connectProtocolVersion {
		return status.Errorf(codes.InvalidArgument, "%s must be %q, got %q", headerConnectVersion, connectProtocolVersion, v[0])
	}
	return nil
}

// serveConnectUnary serves a unary call: read the request, call the
// method, write the response or the error.
func (h *Handler) serveConnectUnary(w http.ResponseWriter, r *http.Request, hm *handlerMethod, codec runtime.Codec, req connectForm) {
	m := hm.handler.Method
	call := transport.NewServerCall(m.FullMethod, nil)
	ctx, cancel, err := h.callContext(r, call, false)
	if cancel != nil {
		defer cancel()
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err == nil {
		err = h.readConnectUnaryRequest(r, buf, req.getMessage)
	}
	if err != nil {
		writeConnectUnaryError(w, nil, nil, err)
		return
	}
	resp, err := hm.handler.Unary(ctx, func(msg any) error {
		if err := codec.Unmarshal(buf.Bytes(), msg.(proto.Message)); err != nil {
			return decodeError(m.FullMethod+" request", err)
		}
		return nil
	})
	header, trailer := call.Header(), call.Trailer()
	if err == nil {
		buf.Reset()
		var b []byte
		if b, err = codec.MarshalAppend(buf.AvailableBuffer(), resp); err == nil {
			h.writeConnectUnary(w, r, header, trailer, req.codecName, b)
			return
		}
		err = status.Errorf(codes.Internal, "encoding %s response: %v", m.FullMethod, err)
	}
	writeConnectUnaryError(w, header, trailer, err)
}

// readConnectUnaryRequest puts the request message into buf: from the GET
// form's query if it came that way, from the body otherwise.
func (h *Handler) readConnectUnaryRequest(r *http.Request, buf *bytes.Buffer, getMessage []byte) error {
	if getMessage != nil {
		buf.Write(getMessage)
		return nil
	}
	return h.readBody(r, buf, r.Header.Get(headerContentEncoding))
}

// writeConnectUnary writes a unary response, gzip-compressed if the client
// accepts it and it is not smaller than the handler's minimum.
func (h *Handler) writeConnectUnary(w http.ResponseWriter, r *http.Request, header, trailer metadata.MD, codecName string, body []byte) {
	hdr := w.Header()
	writeMetadata(w, "", header)
	writeMetadata(w, connectTrailerPrefix, trailer)
	hdr[headerContentType] = contentTypeForCodec[codecName]
	if len(body) >= h.compressMinBytes() && acceptsGzip(r.Header[headerAcceptEncoding]) {
		zbuf := getBuffer()
		defer putBuffer(zbuf)
		zbuf.Write(appendCompressed(zbuf.AvailableBuffer(), body))
		body = zbuf.Bytes()
		hdr[headerContentEncoding] = gzipValue
	}
	hdr[headerContentLength] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeConnectUnaryError writes a Connect unary error: the status's HTTP
// code and Connect's error JSON, with the call's header and trailer.
func writeConnectUnaryError(w http.ResponseWriter, header, trailer metadata.MD, err error) {
	st := status.Convert(err)
	body := marshalConnectError(st)
	hdr := w.Header()
	writeMetadata(w, "", header)
	writeMetadata(w, connectTrailerPrefix, trailer)
	hdr[headerContentType] = jsonContentType
	hdr[headerContentLength] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(httpStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}

// writeConnectStreamError ends a Connect stream that never began: status
// 200 and an end-of-stream message carrying err.
func writeConnectStreamError(w http.ResponseWriter, header, trailer metadata.MD, codecName string, err error) {
	writeMetadata(w, "", header)
	w.Header()[headerContentType] = []string{connectStreamingPrefix + codecName}
	w.WriteHeader(http.StatusOK)
	end := marshalEndStream(err, trailer)
	var b bytes.Buffer
	b.Write(appendEnvelopeHeader(nil, flagEndStream, len(end)))
	b.Write(end)
	_, _ = w.Write(b.Bytes())
}

// connectGetRequest reads the Connect protocol's GET form of a unary call:
// ?encoding=json&message=...[&base64=1][&compression=...][&connect=v1].
func connectGetRequest(r *http.Request) (codecName string, message []byte, err error) {
	q := r.URL.Query()
	if v := q.Get("connect"); v != "" && v != "v"+connectProtocolVersion {
		return "", nil, status.Errorf(codes.InvalidArgument, "connect must be %q, got %q", "v"+connectProtocolVersion, v)
	}
	switch codecName = q.Get("encoding"); codecName {
	case "json", "proto":
	case "":
		return "", nil, status.Error(codes.InvalidArgument, "missing encoding parameter")
	default:
		return "", nil, status.Errorf(codes.InvalidArgument, "invalid message encoding %q", codecName)
	}
	if c := q.Get("compression"); c != "" && c != "identity" {
		return "", nil, status.Errorf(codes.Unimplemented, "unknown compression %q: this server accepts identity for GET requests", c)
	}
	if !q.Has("message") {
		return "", nil, status.Error(codes.InvalidArgument, "missing message parameter")
	}
	msg := q.Get("message")
	if q.Get("base64") == "1" {
		message, err = decodeBase64(msg)
		if err != nil {
			return "", nil, status.Errorf(codes.InvalidArgument, "message parameter: invalid base64: %v", err)
		}
		return codecName, message, nil
	}
	return codecName, []byte(msg), nil
}
