package httptransport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// errTooLarge is what readLimited returns for a body over its limit.
var errTooLarge = errors.New("message too large")

// connectCodeNames are the Connect protocol's names for gRPC codes.
var connectCodeNames = [...]string{
	codes.OK:                 "ok",
	codes.Canceled:           "canceled",
	codes.Unknown:            "unknown",
	codes.InvalidArgument:    "invalid_argument",
	codes.DeadlineExceeded:   "deadline_exceeded",
	codes.NotFound:           "not_found",
	codes.AlreadyExists:      "already_exists",
	codes.PermissionDenied:   "permission_denied",
	codes.ResourceExhausted:  "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition",
	codes.Aborted:            "aborted",
	codes.OutOfRange:         "out_of_range",
	codes.Unimplemented:      "unimplemented",
	codes.Internal:           "internal",
	codes.Unavailable:        "unavailable",
	codes.DataLoss:           "data_loss",
	codes.Unauthenticated:    "unauthenticated",
}

func connectCodeName(c codes.Code) string {
	if int(c) < len(connectCodeNames) {
		return connectCodeNames[c]
	}
	return "unknown"
}

func codeFromConnectName(name string) (codes.Code, bool) {
	for c, n := range connectCodeNames {
		if n == name && c != int(codes.OK) {
			return codes.Code(c), true
		}
	}
	return codes.Unknown, false
}

const typeURLPrefix = "type.googleapis.com/"

// connectWireError is the JSON body of a failed Connect unary call and the
// "error" member of a Connect end-of-stream message.
type connectWireError struct {
	Code    string              `json:"code"`
	Message string              `json:"message,omitempty"`
	Details []connectWireDetail `json:"details,omitempty"`
}

type connectWireDetail struct {
	Type  string          `json:"type"`
	Value string          `json:"value"`
	Debug json.RawMessage `json:"debug,omitempty"`
}

func newConnectWireError(st *status.Status) *connectWireError {
	w := &connectWireError{Code: connectCodeName(st.Code()), Message: st.Message()}
	for _, d := range st.Proto().GetDetails() {
		wd := connectWireDetail{
			Type:  d.GetTypeUrl()[strings.LastIndexByte(d.GetTypeUrl(), '/')+1:],
			Value: base64.RawStdEncoding.EncodeToString(d.GetValue()),
		}
		// Debug is a courtesy for people reading the wire; details whose
		// type this binary does not know go without it.
		if m, err := d.UnmarshalNew(); err == nil {
			if b, err := protojson.Marshal(m); err == nil {
				wd.Debug = b
			}
		}
		w.Details = append(w.Details, wd)
	}
	return w
}

func marshalConnectError(st *status.Status) []byte {
	b, err := json.Marshal(newConnectWireError(st))
	if err != nil {
		// Only the details can fail to encode; keep code and message.
		b, _ = json.Marshal(&connectWireError{Code: connectCodeName(st.Code()), Message: st.Message()})
	}
	return b
}

// marshalStatus encodes st as google.rpc.Status, the error body of
// grpc-gateway, in the response codec. Details whose types are not linked
// into this binary cannot be written as JSON and are left out.
func marshalStatus(codec runtime.Codec, st *status.Status) []byte {
	b, err := codec.MarshalAppend(nil, st.Proto())
	if err != nil {
		p := proto.Clone(st.Proto()).(*spb.Status)
		p.Details = nil
		b, _ = codec.MarshalAppend(nil, p)
	}
	return b
}

// wireError is the union of the error bodies this transport reads: Connect's
// ({"code":"not_found",...,"details":[{"type","value"}]}) and
// google.rpc.Status as grpc-gateway writes it ({"code":5,...,"details":
// [{"@type":...}]}).
type wireError struct {
	Code    json.RawMessage   `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// statusFromJSON reads an error body of either shape. ok is false when
// data is not one: not a JSON object, or an object with neither a code nor
// a message. known is false when the code is missing, null or a name this
// transport does not know: the status then says Unknown, with the body's
// message and details, and the caller may derive a better code (the
// Connect protocol derives a unary error's code from its HTTP status).
func statusFromJSON(data []byte) (st *status.Status, known, ok bool) {
	var w wireError
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, false, false
	}
	p := &spb.Status{Code: int32(codes.Unknown), Message: w.Message}
	switch {
	case len(w.Code) == 0 || string(w.Code) == "null":
		if w.Message == "" {
			return nil, false, false
		}
	case w.Code[0] == '"':
		var name string
		if json.Unmarshal(w.Code, &name) != nil {
			return nil, false, false
		}
		if c, k := codeFromConnectName(name); k {
			p.Code, known = int32(c), true
		}
	default:
		n, err := strconv.ParseInt(string(w.Code), 10, 32)
		if err != nil {
			return nil, false, false
		}
		p.Code, known = int32(n), true
	}
	for _, raw := range w.Details {
		if d := decodeDetail(raw); d != nil {
			p.Details = append(p.Details, d)
		}
	}
	return status.FromProto(p), known, true
}

// decodeDetail reads one error detail in Connect's shape or as protojson's
// Any. Details it cannot read are dropped rather than failing the error.
func decodeDetail(raw json.RawMessage) *anypb.Any {
	var connect struct {
		Type  string  `json:"type"`
		Value *string `json:"value"`
	}
	if json.Unmarshal(raw, &connect) == nil && connect.Type != "" && connect.Value != nil {
		v, err := decodeBase64(*connect.Value)
		if err != nil {
			return nil
		}
		typeURL := connect.Type
		if !strings.Contains(typeURL, "/") {
			typeURL = typeURLPrefix + typeURL
		}
		return &anypb.Any{TypeUrl: typeURL, Value: v}
	}
	a := new(anypb.Any)
	if protojson.Unmarshal(raw, a) != nil {
		return nil
	}
	return a
}

// decodeBase64 accepts standard and URL-safe base64, padded or not, as both
// Connect and grpc-gateway peers write each of them.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}

// statusFromResponse turns a failed HTTP response's body into a status: a
// Connect or google.rpc.Status error body when the response carries one,
// otherwise a code derived from the HTTP status. A body whose code is
// missing or unknown keeps its message and details under the code derived
// from the HTTP status, as the Connect protocol says.
func statusFromResponse(resp *http.Response, body []byte) *status.Status {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get(headerContentType))
	var st *status.Status
	switch {
	case isProtoMediaType(mt):
		p := new(spb.Status)
		if proto.Unmarshal(body, p) == nil && p.Code != 0 {
			st = status.FromProto(p)
		}
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		var known bool
		if st, known, _ = statusFromJSON(bytes.TrimSpace(body)); st != nil && !known {
			// A missing, null or unknown code: the HTTP status says what
			// kind of failure it was, the body still says which.
			p := st.Proto()
			p.Code = int32(codeFromHTTPStatus(resp.StatusCode))
			st = status.FromProto(p)
		}
	}
	if st == nil || st.Code() == codes.OK {
		return status.New(codeFromHTTPStatus(resp.StatusCode), "HTTP status "+resp.Status)
	}
	return st
}

// notConnectResponse is the error of a 200 response whose content type is
// none of the Connect protocol's: whatever answered (a proxy's page, a
// misrouted server) did not run the call as far as the client can tell, so
// the Connect protocol makes it Unknown. A Connect content type of the
// wrong codec is a broken peer, and Internal.
func notConnectResponse(contentType string) error {
	return status.Errorf(codes.Unknown, "response content type %q is not the Connect protocol's", contentType)
}

// transportError turns an error from http.Client.Do into a status error,
// marked with runtime.NotSent when it provably happened before any byte of
// the request was written: resolving or dialing the server, the TLS
// handshake, or the proxy's CONNECT. Anything later, a reset connection
// say, may have left the request at the server, so it is not marked.
func transportError(ctx context.Context, err error) error {
	if ctxErr := transport.ContextError(ctx); ctxErr != nil {
		return ctxErr
	}
	st := status.New(codes.Unavailable, err.Error())
	if notSent(err) {
		return transport.NotSent(st.Err())
	}
	return st.Err()
}

func notSent(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	// TLS alerts are left out on purpose: under TLS 1.3 a server rejects a
	// client certificate with an alert that can arrive after the client
	// started sending its request.
	return errors.As(err, &dnsErr) || errors.As(err, &recordErr) || errors.As(err, &certErr) ||
		errors.As(err, &unknownAuthority) || errors.As(err, &hostnameErr)
}

// bodyError turns an error reading a response body into a status error.
func bodyError(ctx context.Context, err error, limit int64) error {
	if errors.Is(err, errTooLarge) {
		return status.Errorf(codes.ResourceExhausted, "response larger than the limit of %d bytes", limit)
	}
	if ctxErr := transport.ContextError(ctx); ctxErr != nil {
		return ctxErr
	}
	return status.Errorf(codes.Unavailable, "reading response: %v", err)
}

func errorf(c codes.Code, format string, args ...any) error {
	return status.Error(c, fmt.Sprintf(format, args...))
}
