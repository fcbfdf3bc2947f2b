package httptransport

import (
	"net/http"
	"net/textproto"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// serveREST serves a REST route. path is the escaped request path without
// its leading "/", spans the byte ranges of the route's variables in it.
func (h *Handler) serveREST(w http.ResponseWriter, r *http.Request, rt *handlerRoute, path string, spans [][2]int) {
	m := rt.method.handler.Method
	b := rt.binding
	trailers := acceptsTrailers(r)
	if m.Kind.ClientStreams() {
		writeRESTError(w, h.restJSON, nil, nil, trailers, unsupportedStreaming(m.FullMethod, m.Kind))
		return
	}
	reqCodec := h.requestCodec(r.Header.Get(headerContentType))
	respCodec := h.responseCodec(r, reqCodec)
	if m.Kind == transport.ServerStream {
		// grpc-gateway streams newline-delimited JSON only.
		respCodec = h.restJSON
	}

	var call *transport.ServerCall
	var stream *serverStream
	if m.Kind == transport.ServerStream {
		stream = newServerStream(w, m, b, respCodec, "")
		call = stream.call
	} else {
		call = transport.NewServerCall(m.FullMethod, nil)
	}
	ctx, cancel, err := h.callContext(r, call, true)
	if cancel != nil {
		defer cancel()
	}
	if err != nil {
		writeRESTError(w, respCodec, nil, nil, trailers, err)
		return
	}
	decode := func(req any) error { return h.decodeREST(r, b, req.(proto.Message), reqCodec, path, spans) }
	if stream != nil {
		req := m.NewRequest()
		if err := decode(req); err != nil {
			writeRESTError(w, respCodec, nil, nil, trailers, err)
			return
		}
		stream.serve(ctx, rt.method.handler, req, trailers)
		return
	}
	resp, err := rt.method.handler.Unary(ctx, decode)
	header, trailer := call.Header(), call.Trailer()
	if err == nil {
		buf := getBuffer()
		defer putBuffer(buf)
		var out []byte
		out, err = b.appendResponseBody(buf.AvailableBuffer(), respCodec, resp)
		if err != nil {
			err = status.Errorf(codes.Internal, "encoding %s response: %v", m.FullMethod, err)
		} else {
			writeREST(w, respCodec, header, trailer, trailers, http.StatusOK, out)
			return
		}
	}
	writeRESTError(w, respCodec, header, trailer, trailers, err)
}

// decodeREST builds the request from the body, then the path variables,
// then the query, each overriding the one before as in grpc-gateway.
func (h *Handler) decodeREST(r *http.Request, b *restBinding, req proto.Message, codec runtime.Codec, path string, spans [][2]int) error {
	rm := req.ProtoReflect()
	if b.hasBody() {
		bb := getBuffer()
		defer putBuffer(bb)
		if err := h.readBody(r, bb, r.Header.Get(headerContentEncoding)); err != nil {
			return err
		}
		body := bb.Bytes()
		if len(body) > 0 {
			var err error
			if b.bodyAll {
				err = codec.Unmarshal(body, req)
			} else {
				err = decodeFieldBody(body, codec, rm, b.body)
			}
			if err != nil {
				return decodeError("request body", err)
			}
			if err := b.setUpdateMask(rm, body, codec); err != nil {
				return status.Errorf(codes.InvalidArgument, "deriving %s from the body: %v", b.updateMask.Name(), err)
			}
		}
	}
	for i := range b.path.vars {
		v := &b.path.vars[i]
		text, err := unescapePath(path[spans[i][0]:spans[i][1]], v.multi)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "path variable %s: %v", v.name, err)
		}
		if err := v.fields.setFromText(rm, text); err != nil {
			return status.Errorf(codes.InvalidArgument, "path variable %s: %v", v.name, err)
		}
	}
	if !b.bodyAll && r.URL.RawQuery != "" {
		if err := parseQuery(rm, r.URL.RawQuery, b.skip); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
	return nil
}

// acceptsTrailers reports whether the client asked for HTTP trailers (TE:
// trailers), which is when grpc-gateway sends the call's trailer.
func acceptsTrailers(r *http.Request) bool {
	for _, v := range r.Header[headerTE] {
		if v == "trailers" {
			return true
		}
	}
	return false
}

var contentTypeForCodec = map[string][]string{
	"json":  {"application/json"},
	"proto": {"application/proto"},
}

// writeREST writes a REST response: header metadata as Grpc-Metadata-*
// headers, the trailer as Grpc-Trailer-* HTTP trailers when the client
// accepts them.
func writeREST(w http.ResponseWriter, codec runtime.Codec, header, trailer metadata.MD, trailers bool, httpStatus int, body []byte) {
	hdr := w.Header()
	writeMetadata(w, gatewayMetadataPrefix, header)
	hdr[headerContentType] = contentTypeForCodec[codec.Name()]
	sendTrailer := trailers && len(trailer) > 0
	if sendTrailer {
		// Declared trailers make net/http send the body chunked, the only
		// way HTTP/1.1 carries trailers.
		for k := range trailer {
			hdr.Add(headerTrailer, textproto.CanonicalMIMEHeaderKey(gatewayTrailerPrefix+k))
		}
	} else {
		hdr[headerContentLength] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
	if sendTrailer {
		setMetadataHeaders(hdr, gatewayTrailerPrefix, trailer)
	}
}

// writeRESTError writes err as google.rpc.Status under its HTTP status, as
// grpc-gateway does.
func writeRESTError(w http.ResponseWriter, codec runtime.Codec, header, trailer metadata.MD, trailers bool, err error) {
	st := status.Convert(err)
	writeREST(w, codec, header, trailer, trailers, httpStatusFromCode(st.Code()), marshalStatus(codec, st))
}
