package httptransport

import (
	"bytes"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime/transport"
)

var (
	acceptPostUnary     = []string{"application/json, application/proto"}
	acceptPostStreaming = []string{"application/connect+json, application/connect+proto"}
)

// serveConnect serves a Connect route.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request, hm *handlerMethod) {
	m := hm.handler.Method
	if r.Method != http.MethodPost && !(r.Method == http.MethodGet && hm.get) {
		w.Header().Set(headerAllow, hm.allow)
		h.routingError(w, r, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, hm.allow))
		return
	}
	var codecName string
	var streaming, ok bool
	var getMessage []byte
	if r.Method == http.MethodGet {
		var err error
		codecName, getMessage, err = connectGetRequest(r)
		if err != nil {
			writeConnectUnaryError(w, nil, nil, err)
			return
		}
		ok = true
	} else {
		codecName, streaming, ok = codecNameFromContentType(r.Header.Get(headerContentType))
	}
	if !ok || streaming != (m.Kind != transport.Unary) {
		if m.Kind != transport.Unary {
			w.Header()[headerAcceptPost] = acceptPostStreaming
		} else {
			w.Header()[headerAcceptPost] = acceptPostUnary
		}
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	if v := r.Header[headerConnectVersion]; len(v) > 0 && v[0] != connectProtocolVersion {
		err := status.Errorf(codes.InvalidArgument, "%s must be %q, got %q", headerConnectVersion, connectProtocolVersion, v[0])
		if streaming {
			writeConnectStreamError(w, nil, nil, codecName, err)
		} else {
			writeConnectUnaryError(w, nil, nil, err)
		}
		return
	}
	if m.Kind.ClientStreams() {
		if streaming {
			writeConnectStreamError(w, nil, nil, codecName, unsupportedStreaming(m.FullMethod, m.Kind))
		} else {
			writeConnectUnaryError(w, nil, nil, unsupportedStreaming(m.FullMethod, m.Kind))
		}
		return
	}
	codec := h.codecByName(codecName)
	if streaming {
		h.serveConnectStream(w, r, hm, codec, codecName)
		return
	}

	call := transport.NewServerCall(m.FullMethod, nil)
	ctx, cancel, err := h.callContext(r, call)
	if cancel != nil {
		defer cancel()
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err == nil {
		if getMessage != nil {
			buf.Write(getMessage)
		} else {
			err = h.readBody(r, buf, r.Header.Get(headerContentEncoding))
		}
	}
	if err != nil {
		writeConnectUnaryError(w, nil, nil, err)
		return
	}
	resp, err := hm.handler.Unary(ctx, func(req any) error {
		if err := codec.Unmarshal(buf.Bytes(), req.(proto.Message)); err != nil {
			return decodeError(m.FullMethod+" request", err)
		}
		return nil
	})
	header, trailer := call.Header(), call.Trailer()
	if err == nil {
		buf.Reset()
		var b []byte
		b, err = codec.MarshalAppend(buf.AvailableBuffer(), resp)
		if err != nil {
			err = status.Errorf(codes.Internal, "encoding %s response: %v", m.FullMethod, err)
		} else {
			writeConnectUnary(w, header, trailer, codecName, b)
			return
		}
	}
	writeConnectUnaryError(w, header, trailer, err)
}

func writeConnectUnary(w http.ResponseWriter, header, trailer metadata.MD, codecName string, body []byte) {
	hdr := w.Header()
	writeMetadata(w, "", header)
	writeMetadata(w, connectTrailerPrefix, trailer)
	hdr[headerContentType] = contentTypeForCodec[codecName]
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
