package httptransport

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// The Connect protocol (https://connectrpc.com/docs/protocol), as far as
// this transport speaks it: unary calls as a plain POST of one message,
// server streams as a POST whose response is a sequence of enveloped
// messages ending in an end-of-stream message.

const (
	connectUnaryPrefix     = "application/"
	connectStreamingPrefix = "application/connect+"
	connectProtocolVersion = "1"

	// Envelope flags.
	flagCompressed = 0b01
	flagEndStream  = 0b10

	envelopePrefixLen = 5
)

func isProtoMediaType(mt string) bool {
	switch mt {
	case "application/proto", "application/protobuf", "application/x-protobuf",
		"application/x-google-protobuf", "application/vnd.google.protobuf":
		return true
	}
	return false
}

// codecNameFromContentType returns the codec a Connect content type names:
// "proto" or "json", and whether the content type is a streaming one.
func codecNameFromContentType(contentType string) (name string, streaming, ok bool) {
	mt := contentType
	if strings.IndexByte(contentType, ';') >= 0 {
		var params map[string]string
		var err error
		mt, params, err = mime.ParseMediaType(contentType)
		if err != nil || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			return "", false, false
		}
	}
	mt = strings.ToLower(mt)
	switch mt {
	case "application/json":
		return "json", false, true
	case "application/proto":
		return "proto", false, true
	case "application/connect+json":
		return "json", true, true
	case "application/connect+proto":
		return "proto", true, true
	}
	return "", false, false
}

// appendEnvelope appends an enveloped message: one flag byte, the length as
// four big-endian bytes, then the message.
func appendEnvelopeHeader(b []byte, flags byte, length int) []byte {
	b = append(b, flags)
	return binary.BigEndian.AppendUint32(b, uint32(length))
}

// envelopeReadChunk is how much readEnvelope allocates before the first
// bytes of a message arrive: the length prefix is the peer's word, not a
// promise, and a 5-byte prefix announcing 4 GiB must not cost 4 GiB.
const envelopeReadChunk = 32 << 10

// readEnvelope reads one envelope from r into buf (reset first). It returns
// io.EOF at a clean end of input. The buffer grows as the message arrives,
// doubling as io.ReadAll does, never beyond what arrived or was announced,
// so memory follows the bytes received, not the length announced.
func readEnvelope(r io.Reader, buf []byte, limit int64) (flags byte, data []byte, err error) {
	var prefix [envelopePrefixLen]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, errorf(codes.Internal, "protocol error: truncated envelope")
		}
		return 0, nil, err
	}
	size := int64(binary.BigEndian.Uint32(prefix[1:]))
	if limit > 0 && size > limit {
		return 0, nil, status.Errorf(codes.ResourceExhausted, "message of %d bytes is larger than the limit of %d bytes", size, limit)
	}
	data = buf[:0]
	for int64(len(data)) < size {
		if len(data) == cap(data) {
			grow := min(size-int64(len(data)), max(int64(len(data)), envelopeReadChunk))
			data = slices.Grow(data, int(grow))
		}
		end := int(min(int64(cap(data)), size))
		n, err := r.Read(data[len(data):end])
		data = data[:len(data)+n]
		if err != nil && int64(len(data)) < size {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, nil, errorf(codes.Internal, "protocol error: truncated message (%d bytes announced, %d received)", size, len(data))
			}
			return 0, nil, err
		}
	}
	return prefix[0], data, nil
}

// splitRequestEnvelope reads the one envelope a request body must hold.
// Anything after it fails as connect-go's handlers fail it (handler.go,
// receiveUnaryMessage, and envelope.go): a second whole envelope with
// Unimplemented, "unary request has multiple messages"; bytes that are not
// a whole envelope with InvalidArgument, "protocol error: incomplete
// envelope" or "promised N bytes in enveloped message, got M bytes".
// An empty body returns io.EOF.
func splitRequestEnvelope(body []byte, limit int64) (flags byte, data []byte, err error) {
	if len(body) == 0 {
		return 0, nil, io.EOF
	}
	flags, data, rest, err := cutEnvelope(body, limit)
	if err != nil {
		return 0, nil, err
	}
	if len(rest) > 0 {
		if _, _, _, err := cutEnvelope(rest, 0); err != nil {
			return 0, nil, err
		}
		return 0, nil, status.Error(codes.Unimplemented, "unary request has multiple messages")
	}
	return flags, data, nil
}

// cutEnvelope cuts the envelope at the start of b from the bytes after it.
func cutEnvelope(b []byte, limit int64) (flags byte, data, rest []byte, err error) {
	if len(b) < envelopePrefixLen {
		return 0, nil, nil, status.Error(codes.InvalidArgument, "protocol error: incomplete envelope")
	}
	size := int64(binary.BigEndian.Uint32(b[1:envelopePrefixLen]))
	if limit > 0 && size > limit {
		return 0, nil, nil, status.Errorf(codes.ResourceExhausted, "message of %d bytes is larger than the limit of %d bytes", size, limit)
	}
	flags, b = b[0], b[envelopePrefixLen:]
	if int64(len(b)) < size {
		return 0, nil, nil, status.Errorf(codes.InvalidArgument, "protocol error: promised %d bytes in enveloped message, got %d bytes", size, len(b))
	}
	return flags, b[:size], b[size:], nil
}

// endStreamMessage is the JSON of a Connect end-of-stream envelope.
type endStreamMessage struct {
	Error    *connectWireError   `json:"error,omitempty"`
	Metadata map[string][]string `json:"metadata,omitempty"`
}

func marshalEndStream(err error, trailer metadata.MD) []byte {
	end := endStreamMessage{}
	if err != nil {
		end.Error = newConnectWireError(status.Convert(err))
	}
	if len(trailer) > 0 {
		end.Metadata = make(map[string][]string, len(trailer))
		setMetadataHeaders(http.Header(end.Metadata), "", trailer)
	}
	b, jerr := json.Marshal(&end)
	if jerr != nil {
		end.Error = &connectWireError{Code: end.Error.Code, Message: end.Error.Message}
		b, _ = json.Marshal(&end)
	}
	return b
}

// parseEndStream reads an end-of-stream message: the call's status and
// trailer.
func parseEndStream(data []byte) (error, metadata.MD) {
	var raw struct {
		Error    json.RawMessage     `json:"error"`
		Metadata map[string][]string `json:"metadata"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return errorf(codes.Internal, "protocol error: invalid end-of-stream message: %v", err), nil
	}
	var trailer metadata.MD
	if len(raw.Metadata) > 0 {
		h := make(http.Header, len(raw.Metadata))
		for k, v := range raw.Metadata {
			h[http.CanonicalHeaderKey(k)] = v
		}
		trailer = responseMetadata(nil, h, "", "")
	}
	if len(raw.Error) == 0 || string(raw.Error) == "null" {
		return nil, trailer
	}
	// A missing, null or unknown code is Unknown, with the message kept:
	// an end-of-stream message has no HTTP status to derive one from.
	st, _, ok := statusFromJSON(raw.Error)
	if !ok {
		return errorf(codes.Internal, "protocol error: invalid error in end-of-stream message"), trailer
	}
	if st.Code() == codes.OK {
		st = status.New(codes.Unknown, st.Message())
	}
	return st.Err(), trailer
}

// ndjsonReader reads grpc-gateway's server streams: one JSON object a
// line, {"result": message} or {"error": google.rpc.Status}.
type ndjsonReader struct {
	r     *bufio.Reader
	line  []byte
	limit int64
}

// next returns the payload of the next chunk and whether it is an error.
func (n *ndjsonReader) next() (payload []byte, isError bool, err error) {
	for {
		n.line = n.line[:0]
		for {
			chunk, err := n.r.ReadSlice('\n')
			n.line = append(n.line, chunk...)
			if n.limit > 0 && int64(len(n.line)) > n.limit {
				return nil, false, status.Errorf(codes.ResourceExhausted, "stream message larger than the limit of %d bytes", n.limit)
			}
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if isTrailerError(err) {
				err = io.EOF // the body ended; its trailers could not be read
			}
			if errors.Is(err, io.EOF) && len(trimSpace(n.line)) > 0 {
				break // a last line without its newline
			}
			return nil, false, err
		}
		line := trimSpace(n.line)
		if len(line) == 0 {
			continue
		}
		return splitChunk(line)
	}
}

// splitChunk finds the value of a one-member object {"result": v} or
// {"error": v} without decoding v, which the codec does next.
func splitChunk(line []byte) ([]byte, bool, error) {
	bad := func() ([]byte, bool, error) {
		return nil, false, errorf(codes.Internal, "protocol error: stream chunk is not {\"result\":...} or {\"error\":...}: %.64q", line)
	}
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return bad()
	}
	rest := trimSpace(line[1 : len(line)-1])
	var isError bool
	switch {
	case hasPrefix(rest, `"result"`):
		rest = rest[len(`"result"`):]
	case hasPrefix(rest, `"error"`):
		rest, isError = rest[len(`"error"`):], true
	default:
		return bad()
	}
	rest = trimSpace(rest)
	if len(rest) == 0 || rest[0] != ':' {
		return bad()
	}
	return trimSpace(rest[1:]), isError, nil
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// unsupportedStreaming is the error for client and bidi streaming methods
// called on a REST route, which carries unary and server-streaming calls
// only.
func unsupportedStreaming(fullMethod string, kind transport.StreamKind) error {
	return status.Errorf(codes.Unimplemented, "%s is a %s method: REST routes carry unary and server-streaming calls only; call it on its Connect route, POST /%s", fullMethod, kind, strings.TrimPrefix(fullMethod, "/"))
}
