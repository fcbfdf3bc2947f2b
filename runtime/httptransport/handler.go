package httptransport

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/svcclient/svcclient/internal/httprule"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// Handler is the server half of the HTTP transport: an http.Handler that
// serves one [runtime.Service] on the Connect route of every method
// (POST /package.Service/Method) and on the REST routes of its
// google.api.http rules, additional bindings included.
//
// Requests are bounded ([WithReadMaxBytes]); bodies that do not decode
// fail with InvalidArgument; unknown paths get 404 and known paths with
// another HTTP method 405; deadlines come from Connect-Timeout-Ms or
// Grpc-Timeout; request headers become incoming metadata. A panicking
// implementation fails its call with Internal and the handler serves on.
type Handler struct {
	svc     *runtime.Service
	json    *runtime.JSONCodec
	readMax int64
	connect map[string]*handlerMethod
	routes  []handlerRoute
	// maxVars is the largest number of path variables of any route.
	maxVars int
}

type handlerMethod struct {
	handler *transport.Handler
	// get: the method has no side effects, so Connect's GET form may
	// carry it.
	get   bool
	allow string
}

type handlerRoute struct {
	method  *handlerMethod
	binding *restBinding
}

// NewHandler returns the handler serving svc. It panics if a method's
// google.api.http rule does not fit its messages, which the generator
// rules out for generated code.
func NewHandler(svc *runtime.Service, opts ...HandlerOption) *Handler {
	cfg := handlerConfig{}
	for _, o := range opts {
		o.applyToHandler(&cfg)
	}
	h := &Handler{svc: svc, json: cfg.jsonCodec, readMax: cfg.readMaxBytes, connect: make(map[string]*handlerMethod)}
	if h.json == nil {
		h.json = defaultJSONCodec()
	}
	if h.readMax == 0 {
		h.readMax = defaultReadMaxBytes
	}
	for _, handler := range svc.Handlers() {
		m := handler.Method
		hm := &handlerMethod{handler: handler, allow: http.MethodPost}
		if m.Kind == transport.Unary && m.Idempotency == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
			hm.get, hm.allow = true, "GET, POST"
		}
		h.connect[m.FullMethod] = hm
		rules, err := httprule.ForMethod(m.Desc)
		if err != nil {
			panic("httptransport: " + m.FullMethod + ": " + err.Error())
		}
		h.addRoutes(hm, rules)
	}
	return h
}

// addRoutes adds the REST routes of hm's google.api.http rules.
func (h *Handler) addRoutes(hm *handlerMethod, rules []httprule.Rule) {
	m := hm.handler.Method
	for j := range rules {
		b, err := compileBinding(m, &rules[j])
		if err != nil {
			panic("httptransport: " + m.FullMethod + ": " + err.Error())
		}
		h.routes = append(h.routes, handlerRoute{method: hm, binding: b})
		h.maxVars = max(h.maxVars, len(b.path.vars))
	}
}

// ServeHTTP serves one call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if served, allowed := h.serve(w, r); !served {
		h.notServed(w, r, allowed)
	}
}

// serve serves r if one of h's routes matches it. If none does, it
// returns the HTTP methods that the path would match with.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (served bool, allowed []string) {
	if hm := h.connect[r.URL.Path]; hm != nil {
		h.serveConnect(w, r, hm)
		return true, nil
	}
	path := r.URL.EscapedPath()
	path = strings.TrimPrefix(path, "/")
	var spanBuf [4][2]int
	spans := spanBuf[:]
	if h.maxVars > len(spans) {
		spans = make([][2]int, h.maxVars)
	}
	rt, allowed := h.route(r.Method, path, spans)
	if rt == nil {
		return false, allowed
	}
	h.serveREST(w, r, rt, path, spans)
	return true, nil
}

// route finds the REST route for an HTTP method and an escaped path
// without its leading "/", filling spans with its variables' byte ranges.
// If there is none, it returns the HTTP methods the path would match with.
func (h *Handler) route(method, path string, spans [][2]int) (rt *handlerRoute, allowed []string) {
	for i := range h.routes {
		rt := &h.routes[i]
		if !rt.binding.path.match(path, spans) {
			continue
		}
		if rt.binding.rule.Method != method {
			if !slices.Contains(allowed, rt.binding.rule.Method) {
				allowed = append(allowed, rt.binding.rule.Method)
			}
			continue
		}
		return rt, nil
	}
	return nil, allowed
}

// notServed answers a request no route took: 405 with an Allow header if
// the path exists for other HTTP methods, 404 otherwise.
func (h *Handler) notServed(w http.ResponseWriter, r *http.Request, allowed []string) {
	if len(allowed) > 0 {
		w.Header().Set(headerAllow, strings.Join(allowed, ", "))
		h.routingError(w, r, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
		return
	}
	h.routingError(w, r, http.StatusNotFound, status.Newf(codes.Unimplemented, "no route for %s %s", r.Method, r.URL.Path))
}

// NewServeMux returns an http.Handler serving the routes of several
// handlers, for a server with more than one service. Routes are tried in
// the order the handlers are given.
func NewServeMux(handlers ...*Handler) http.Handler {
	return serveMux(handlers)
}

type serveMux []*Handler

func (m serveMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, h := range m {
		served, a := h.serve(w, r)
		if served {
			return
		}
		allowed = append(allowed, a...)
	}
	if len(m) > 0 {
		m[0].notServed(w, r, slices.Compact(slices.Sorted(slices.Values(allowed))))
		return
	}
	http.NotFound(w, r)
}

// routingError answers a request that reached no method, in the error
// shape the request's protocol expects.
func (h *Handler) routingError(w http.ResponseWriter, r *http.Request, httpStatus int, st *status.Status) {
	hdr := w.Header()
	hdr[headerContentType] = jsonContentType
	var body []byte
	if isConnectRequest(r) {
		body = marshalConnectError(st)
	} else {
		body = marshalStatus(h.json, st)
	}
	hdr[headerContentLength] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

func isConnectRequest(r *http.Request) bool {
	return len(r.Header[headerConnectVersion]) > 0 || strings.HasPrefix(r.Header.Get(headerContentType), connectStreamingPrefix)
}

// callContext builds the context a handler runs in: the request's, bounded
// by its timeout header, with its headers as incoming metadata, its peer,
// and the call's header and trailer.
func (h *Handler) callContext(r *http.Request, call *transport.ServerCall) (context.Context, context.CancelFunc, error) {
	ctx, cancel, err := requestDeadline(r.Context(), r.Header)
	if err != nil {
		return ctx, nil, err
	}
	md, err := incomingMetadata(r.Header)
	if err != nil {
		return ctx, cancel, err
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: remoteAddr(r.RemoteAddr)})
	call.SetTransport(Name)
	return call.Context(ctx), cancel, nil
}

// remoteAddr is a client's address as net/http reports it.
type remoteAddr string

func (a remoteAddr) Network() string { return "tcp" }
func (a remoteAddr) String() string  { return string(a) }

var _ net.Addr = remoteAddr("")

// readBody reads the request body into buf, within the handler's limit,
// decompressing it if the client compressed it with gzip.
func (h *Handler) readBody(r *http.Request, buf *bytes.Buffer, encoding string) error {
	if h.readMax > 0 && r.ContentLength > h.readMax {
		return status.Errorf(codes.ResourceExhausted, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, h.readMax)
	}
	var body io.Reader = r.Body
	switch encoding {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "reading gzip request body: %v", err)
		}
		defer zr.Close()
		body = zr
	default:
		return status.Errorf(codes.Unimplemented, "unknown content encoding %q: this server accepts gzip and identity", encoding)
	}
	if err := readLimited(buf, body, h.readMax); err != nil {
		if err == errTooLarge {
			return status.Errorf(codes.ResourceExhausted, "request body is larger than the limit of %d bytes", h.readMax)
		}
		if ctxErr := transport.ContextError(r.Context()); ctxErr != nil {
			return ctxErr
		}
		return status.Errorf(codes.InvalidArgument, "reading request body: %v", err)
	}
	return nil
}

// writeMetadata writes md into the response header under prefix.
func writeMetadata(w http.ResponseWriter, prefix string, md metadata.MD) {
	if len(md) > 0 {
		setMetadataHeaders(w.Header(), prefix, md)
	}
}

// writeTrailers sends md as HTTP trailers named prefix+key. They must be
// set after the body was written.
func writeTrailers(w http.ResponseWriter, prefix string, md metadata.MD) {
	if len(md) == 0 {
		return
	}
	setMetadataHeaders(w.Header(), http.TrailerPrefix+prefix, md)
}

// requestCodec picks the codec of a REST request body by its content type:
// binary protobuf if it says so, JSON otherwise (grpc-gateway reads any
// other content type as JSON too).
func (h *Handler) requestCodec(contentType string) runtime.Codec {
	mt, _, _ := strings.Cut(contentType, ";")
	if isProtoMediaType(strings.TrimSpace(strings.ToLower(mt))) {
		return runtime.ProtoCodec{}
	}
	return h.json
}

// responseCodec picks the codec of a REST response: the one Accept names
// (binary protobuf or JSON), else the request's.
func (h *Handler) responseCodec(r *http.Request, reqCodec runtime.Codec) runtime.Codec {
	for _, a := range r.Header.Values(headerAccept) {
		for part := range strings.SplitSeq(a, ",") {
			mt, _, _ := strings.Cut(part, ";")
			mt = strings.TrimSpace(strings.ToLower(mt))
			if isProtoMediaType(mt) {
				return runtime.ProtoCodec{}
			}
			if mt == "application/json" {
				return h.json
			}
		}
	}
	return reqCodec
}

func (h *Handler) codecByName(name string) runtime.Codec {
	if name == "proto" {
		return runtime.ProtoCodec{}
	}
	return h.json
}

// decodeError wraps a codec's complaint about a request body.
func decodeError(what string, err error) error {
	return status.Errorf(codes.InvalidArgument, "decoding %s: %v", what, err)
}
