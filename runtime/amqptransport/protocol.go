package amqptransport

import (
	"encoding/base64"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// The wire contract, documented in docs/amqp-protocol.md. Everything that
// names a header, a property value or an encoding lives in this file.

// Name is the transport's name, as reported by runtime.AnsweredBy.
const Name = "amqp"

// DirectReplyTo is RabbitMQ's pseudo-queue for replies without a reply queue.
const DirectReplyTo = "amq.rabbitmq.reply-to"

// Header names. Every header our transport sets or reads begins with
// reservedPrefix; all other headers are metadata.
const (
	reservedPrefix = "rpc-"
	// hdrDeadline is the call's deadline, Unix time in milliseconds.
	hdrDeadline = "rpc-deadline"
	// hdrStatus is the reply's gRPC status code; absent means OK.
	hdrStatus = "rpc-status"
	// hdrMessage is the reply's status message.
	hdrMessage = "rpc-message"
	// hdrDetails is the reply's google.rpc.Status, protobuf binary, base64.
	hdrDetails = "rpc-status-details-bin"
	// trailerPrefix starts the name of each trailer metadata header of a reply.
	trailerPrefix = "rpc-trailer-"
)

// maxHeaderName is the longest header name AMQP tables can carry (a shortstr).
const maxHeaderName = 255

// contentType returns the content_type that names codec on the wire.
func contentType(codec runtime.Codec) string { return "application/" + codec.Name() }

// codecNameForContentType returns the codec name ("proto" or "json") for a
// content_type, or "" when it names no codec we know. Parameters such as
// "; charset=utf-8" are ignored.
func codecNameForContentType(ct string) string {
	switch ct { // fast path: what our own peers send
	case "application/proto":
		return "proto"
	case "application/json":
		return "json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	switch mt {
	case "application/proto", "application/protobuf", "application/x-protobuf", "application/vnd.google.protobuf":
		return "proto"
	case "application/json":
		return "json"
	}
	return ""
}

// codecSet finds a codec by the name a content_type maps to.
type codecSet struct {
	proto, json runtime.Codec
}

// defaultCodecs are the codecs both sides read with unless configured
// otherwise. JSON ignores unknown fields, as connect-go's and protobuf's
// binary decoding do: a field added to a message on one side must not
// break a peer built before it (docs/amqp-protocol.md section 5).
func defaultCodecs() codecSet {
	return codecSet{proto: runtime.ProtoCodec{}, json: &runtime.JSONCodec{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}}
}

func (cs *codecSet) set(c runtime.Codec) {
	switch c.Name() {
	case "proto":
		cs.proto = c
	case "json":
		cs.json = c
	}
}

// forContentType returns the codec for ct; an empty ct means fallback.
func (cs *codecSet) forContentType(ct string, fallback runtime.Codec) (runtime.Codec, error) {
	if ct == "" {
		return fallback, nil
	}
	switch codecNameForContentType(ct) {
	case "proto":
		return cs.proto, nil
	case "json":
		return cs.json, nil
	}
	return nil, fmt.Errorf("unsupported content_type %q: want application/proto or application/json", ct)
}

// maxExpiration is the largest expiration property we send, in
// milliseconds: 2^32-1, about 49.7 days. RabbitMQ refuses a larger one by
// closing the channel it came on (406 invalid expiration; 3.10 takes up
// to ten years), which would end every call sharing that channel. The
// expiration only bounds how long a message waits in a queue; rpc-deadline
// still carries the deadline itself.
const maxExpiration = 1<<32 - 1

// encodeDeadline returns the expiration property and the rpc-deadline header
// value for a deadline. ok is false when the deadline has passed.
func encodeDeadline(deadline, now time.Time) (expiration string, unixMilli int64, ok bool) {
	remaining := deadline.Sub(now)
	if remaining <= 0 {
		return "", 0, false
	}
	ms := int64(maxExpiration)
	if remaining < maxExpiration*time.Millisecond {
		// Round up: an expiration of "0" means "deliver now or drop", which
		// is not what a caller with a few hundred microseconds left asked for.
		ms = int64((remaining + time.Millisecond - 1) / time.Millisecond)
	}
	return strconv.FormatInt(ms, 10), deadline.UnixMilli(), true
}

// headerInt reads an integer header value of any AMQP integer type, or a
// decimal string, as peers in other languages may send either.
func headerInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case uint8:
		return int64(v), true
	case int16:
		return int64(v), true
	case uint16:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint32:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64: // some clients send every number as a double
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	case float32:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<24 {
			return int64(f), true
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	case []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// headerString reads a string header value: a longstr or a byte array.
func headerString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// reservedHeader returns the value of the reserved header name (lower
// case), whatever the case the sender wrote it in: section 4 says readers
// lower-case header names. Our own peers write it in lower case, which
// the first lookup finds.
func reservedHeader(h amqp.Table, name string) (any, bool) {
	if v, ok := h[name]; ok {
		return v, true
	}
	for k, v := range h {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// headerDeadline reads the rpc-deadline header, in any case.
func headerDeadline(h amqp.Table) (time.Time, bool, error) {
	v, ok := reservedHeader(h, hdrDeadline)
	if !ok {
		return time.Time{}, false, nil
	}
	ms, ok := headerInt(v)
	if !ok {
		return time.Time{}, false, fmt.Errorf("header %s: want an integer, Unix time in milliseconds, got %T", hdrDeadline, v)
	}
	return time.UnixMilli(ms), true, nil
}

// putMetadata adds md to h as headers named prefix+key. One value travels as
// a string, several as an array of strings; binary ("-bin") values travel
// base64-encoded. Keys in our reserved namespace are not metadata and are
// skipped, as grpc-go skips reserved "grpc-" keys.
func putMetadata(h amqp.Table, prefix string, md metadata.MD) (amqp.Table, error) {
	for k, vs := range md {
		if len(vs) == 0 || strings.HasPrefix(k, reservedPrefix) {
			continue
		}
		name := k
		if prefix != "" {
			name = prefix + k
		}
		if len(name) > maxHeaderName {
			return h, status.Errorf(codes.Internal, "metadata key %.40q... is longer than an AMQP header name may be (%d bytes)", k, maxHeaderName)
		}
		if h == nil {
			h = make(amqp.Table, len(md)+2)
		}
		if len(vs) == 1 {
			h[name] = transport.EncodeMetadataValue(k, vs[0])
			continue
		}
		arr := make([]any, len(vs))
		for i, v := range vs {
			arr[i] = transport.EncodeMetadataValue(k, v)
		}
		h[name] = arr
	}
	return h, nil
}

// appendMetadataValue adds the value(s) of one header to md under key.
// Strings, byte arrays, integers, floats and booleans are taken; anything
// else (tables, such as RabbitMQ's x-death) is not metadata and is skipped.
func appendMetadataValue(md metadata.MD, key string, v any) metadata.MD {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			md = appendMetadataValue(md, key, e)
		}
		return md
	case []byte:
		// A byte array is the value itself, even for a binary key: only
		// text needs base64.
		return appendMD(md, key, string(v))
	case string:
		dv, err := transport.DecodeMetadataValue(key, v)
		if err != nil {
			return md // a malformed binary value is dropped, as grpc-go drops it
		}
		return appendMD(md, key, dv)
	case bool:
		return appendMD(md, key, strconv.FormatBool(v))
	case float32:
		return appendMD(md, key, strconv.FormatFloat(float64(v), 'g', -1, 32))
	case float64:
		return appendMD(md, key, strconv.FormatFloat(v, 'g', -1, 64))
	}
	if n, ok := headerInt(v); ok {
		return appendMD(md, key, strconv.FormatInt(n, 10))
	}
	return md
}

func appendMD(md metadata.MD, key, v string) metadata.MD {
	if md == nil {
		md = metadata.MD{}
	}
	md[key] = append(md[key], v)
	return md
}

// requestMetadata turns the headers of a request into incoming metadata: every
// header outside the reserved namespace, with its name lower-cased.
func requestMetadata(h amqp.Table) metadata.MD {
	var md metadata.MD
	for k, v := range h {
		key := strings.ToLower(k)
		if strings.HasPrefix(key, reservedPrefix) {
			continue
		}
		md = appendMetadataValue(md, key, v)
	}
	return md
}

// replyHeaders builds the headers of a reply: header metadata as is, trailer
// metadata under rpc-trailer-, and the status when it is not OK.
func replyHeaders(header, trailer metadata.MD, st *status.Status) (amqp.Table, error) {
	h, err := putMetadata(nil, "", header)
	if err != nil {
		return nil, err
	}
	if h, err = putMetadata(h, trailerPrefix, trailer); err != nil {
		return nil, err
	}
	if st == nil || st.Code() == codes.OK {
		return h, nil
	}
	if h == nil {
		h = make(amqp.Table, 3)
	}
	h[hdrStatus] = int32(st.Code())
	if msg := st.Message(); msg != "" {
		h[hdrMessage] = msg
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		b, err := proto.Marshal(p)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encoding status details: %v", err)
		}
		h[hdrDetails] = base64.RawStdEncoding.EncodeToString(b)
	}
	return h, nil
}

// readReply splits the headers of a reply into header and trailer metadata
// and the call's status. A reply without rpc-status is a success, so that a
// server written without knowledge of this protocol answers our client.
func readReply(h amqp.Table) (header, trailer metadata.MD, err error) {
	var (
		code      = codes.OK
		message   string
		details   []byte
		detailErr error
	)
	for k, v := range h {
		key := strings.ToLower(k)
		switch {
		case key == hdrStatus:
			n, ok := headerInt(v)
			if !ok || n < 0 || n > math.MaxUint32 {
				return header, trailer, status.Errorf(codes.Internal, "reply header %s: want a gRPC status code, got %v (%T)", hdrStatus, v, v)
			}
			code = codes.Code(n)
		case key == hdrMessage:
			message, _ = headerString(v)
		case key == hdrDetails:
			details, detailErr = decodeBinary(v)
		case strings.HasPrefix(key, trailerPrefix):
			trailer = appendMetadataValue(trailer, key[len(trailerPrefix):], v)
		case strings.HasPrefix(key, reservedPrefix):
		default:
			header = appendMetadataValue(header, key, v)
		}
	}
	if code == codes.OK {
		return header, trailer, nil
	}
	if detailErr != nil {
		return header, trailer, status.Errorf(codes.Internal, "reply header %s: %v (status was %v: %s)", hdrDetails, detailErr, code, message)
	}
	if details == nil {
		return header, trailer, status.Error(code, message)
	}
	p := new(spb.Status)
	if err := proto.Unmarshal(details, p); err != nil {
		return header, trailer, status.Errorf(codes.Internal, "reply header %s: %v (status was %v: %s)", hdrDetails, err, code, message)
	}
	if codes.Code(p.GetCode()) != code {
		// As grpc-go does: details that contradict the status are a protocol error.
		return header, trailer, status.Errorf(codes.Internal, "reply header %s has code %v, %s has %v", hdrDetails, codes.Code(p.GetCode()), hdrStatus, code)
	}
	return header, trailer, status.ErrorProto(p)
}

func decodeBinary(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		if len(v)%4 == 0 {
			return base64.StdEncoding.DecodeString(v)
		}
		return base64.RawStdEncoding.DecodeString(v)
	}
	return nil, fmt.Errorf("want base64 text or a byte array, got %T", v)
}

// serviceName returns "pkg.Service" from "/pkg.Service/Method", without
// allocating: it is the default routing key, hence the server's queue name.
func serviceName(fullMethod string) string {
	s := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}
