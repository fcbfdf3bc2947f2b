package httptransport

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The gRPC protocol (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md)
// and the gRPC-Web protocol (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md),
// as the handler serves them and the gRPC-Web client speaks it. Messages
// travel in the same 5-byte envelopes as Connect streams; what differs is
// where the status goes: HTTP/2 trailers for gRPC, a last envelope flagged
// 0x80 holding HTTP/1-style header lines for gRPC-Web.

const (
	grpcContentTypePrefix    = "application/grpc"
	grpcWebContentTypePrefix = "application/grpc-web"
	grpcWebTextPrefix        = "application/grpc-web-text"

	headerGRPCStatus         = "Grpc-Status"
	headerGRPCMessage        = "Grpc-Message"
	headerGRPCStatusDetails  = "Grpc-Status-Details-Bin"
	headerGRPCEncoding       = "Grpc-Encoding"
	headerGRPCAcceptEncoding = "Grpc-Accept-Encoding"

	// flagGRPCWebTrailer marks gRPC-Web's trailer envelope.
	flagGRPCWebTrailer = 0x80

	// grpcCompressMinBytes is the size below which a response message is
	// sent uncompressed even when the client compressed its request:
	// gzip's own header and footer (18 bytes) and the CPU cost outweigh
	// what it saves on small messages.
	grpcCompressMinBytes = 1024
)

var (
	grpcAcceptEncodingValue = []string{"gzip"}
	grpcEncodingGzip        = []string{"gzip"}
)

// grpcForm is what a gRPC or gRPC-Web request's content type says of it.
type grpcForm struct {
	codecName   string // "proto" or "json"
	web         bool   // gRPC-Web rather than gRPC
	text        bool   // gRPC-Web's base64 form, application/grpc-web-text
	contentType string // the response's content type: the request's, normalised
}

// grpcFormOf reads r's content type: application/grpc[+proto|+json],
// application/grpc-web[+proto|+json] or application/grpc-web-text[+proto].
// ok is false for any other content type, which leaves r to the Connect
// and REST protocols.
func grpcFormOf(r *http.Request) (f grpcForm, ok bool) {
	ct := r.Header.Get(headerContentType)
	if len(ct) < len(grpcContentTypePrefix) || !strings.EqualFold(ct[:len(grpcContentTypePrefix)], grpcContentTypePrefix) {
		return f, false
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	base, sub, _ := strings.Cut(mt, "+")
	switch base {
	case "application/grpc":
	case "application/grpc-web":
		f.web = true
	case "application/grpc-web-text":
		f.web, f.text = true, true
	default:
		return f, false
	}
	switch sub {
	case "", "proto":
		f.codecName = "proto"
	case "json":
		f.codecName = "json"
	default:
		// A codec this handler does not have: still gRPC, answered with
		// Internal as grpc-go answers it.
		f.codecName = sub
	}
	f.contentType = base
	if sub != "" {
		f.contentType += "+" + sub
	}
	return f, true
}

// encodeGRPCMessage percent-encodes a status message as gRPC requires:
// every byte outside printable ASCII, and '%' itself, becomes %XX.
func encodeGRPCMessage(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 8)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < ' ' || c > '~' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// decodeGRPCMessage reverses encodeGRPCMessage. A '%' not followed by two
// hex digits is kept as it is, as grpc-go keeps it.
func decodeGRPCMessage(msg string) string {
	if strings.IndexByte(msg, '%') < 0 {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg))
	for i := 0; i < len(msg); i++ {
		if msg[i] == '%' && i+2 < len(msg) {
			if v, err := strconv.ParseUint(msg[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(msg[i])
	}
	return b.String()
}

// setGRPCStatus writes st as gRPC's status headers into h, under prefix
// (http.TrailerPrefix for HTTP/2 trailers, "" for a trailers-only response
// or gRPC-Web's trailer envelope).
func setGRPCStatus(h http.Header, prefix string, st *status.Status) {
	h[prefix+headerGRPCStatus] = []string{strconv.Itoa(int(st.Code()))}
	if msg := st.Message(); msg != "" {
		h[prefix+headerGRPCMessage] = []string{encodeGRPCMessage(msg)}
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			h[prefix+headerGRPCStatusDetails] = []string{base64.RawStdEncoding.EncodeToString(b)}
		}
	}
}

// grpcStatusFromHeader reads the status gRPC's headers carry in h. ok is
// false if h holds no grpc-status.
func grpcStatusFromHeader(h http.Header) (st *status.Status, ok bool) {
	code := h.Get(headerGRPCStatus)
	if code == "" {
		return nil, false
	}
	msg := decodeGRPCMessage(h.Get(headerGRPCMessage))
	c, err := strconv.ParseUint(code, 10, 32)
	if err != nil {
		return status.Newf(codes.Internal, "protocol error: invalid grpc-status %q", code), true
	}
	if details := h.Get(headerGRPCStatusDetails); details != "" {
		if b, err := decodeBase64(details); err == nil {
			var p spb.Status
			if proto.Unmarshal(b, &p) == nil && p.GetCode() == int32(c) {
				return status.FromProto(&p), true
			}
		}
	}
	return status.New(codes.Code(c), msg), true
}

// appendGRPCWebTrailer appends gRPC-Web's trailer envelope: flag 0x80, the
// length, then the status and trailer as lower-case "key: value\r\n" lines.
func appendGRPCWebTrailer(b []byte, st *status.Status, trailer metadata.MD) []byte {
	h := make(http.Header, 3+len(trailer))
	setGRPCStatus(h, "", st)
	setMetadataHeaders(h, "", trailer)
	start := len(b)
	b = appendEnvelopeHeader(b, flagGRPCWebTrailer, 0)
	for k, vs := range h {
		k = strings.ToLower(k)
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ':', ' ')
			b = append(b, v...)
			b = append(b, '\r', '\n')
		}
	}
	putLength(b[start:], len(b)-start-envelopePrefixLen)
	return b
}

// parseGRPCWebTrailer reads the block of a gRPC-Web trailer envelope.
func parseGRPCWebTrailer(block []byte) http.Header {
	h := make(http.Header)
	for line := range strings.SplitSeq(string(block), "\n") {
		line = strings.TrimRight(line, "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h
}

// decodeBase64Chunks decodes gRPC-Web text: base64, possibly several
// padded chunks one after another (a sender may encode each write on its
// own), possibly without the final padding.
func decodeBase64Chunks(s []byte) ([]byte, error) {
	out := make([]byte, 0, base64.StdEncoding.DecodedLen(len(s)))
	for len(s) > 0 {
		end := bytes.IndexByte(s, '=')
		if end < 0 {
			n, err := base64.RawStdEncoding.AppendDecode(out, s)
			return n, err
		}
		// The chunk ends after its padding: one or two '='.
		end++
		if end < len(s) && s[end] == '=' {
			end++
		}
		var err error
		if out, err = base64.StdEncoding.AppendDecode(out, s[:end]); err != nil {
			return nil, err
		}
		s = s[end:]
	}
	return out, nil
}

// withoutReserved returns md without the keys gRPC reserves for itself
// ("grpc-status", "grpc-message", ... every "grpc-" key), which a method's
// metadata must not overwrite; grpc-go drops them too. md itself is
// returned when it holds none, the usual case.
func withoutReserved(md metadata.MD) metadata.MD {
	reserved := false
	for k := range md {
		if strings.HasPrefix(k, "grpc-") {
			reserved = true
			break
		}
	}
	if !reserved {
		return md
	}
	out := make(metadata.MD, len(md))
	for k, v := range md {
		if !strings.HasPrefix(k, "grpc-") {
			out[k] = v
		}
	}
	return out
}
