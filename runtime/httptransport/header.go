package httptransport

import (
	"context"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/transport"
)

// Header names the transport itself reads or writes. They never carry
// metadata, in either direction.
const (
	headerContentType      = "Content-Type"
	headerContentLength    = "Content-Length"
	headerContentEncoding  = "Content-Encoding"
	headerAccept           = "Accept"
	headerAllow            = "Allow"
	headerTE               = "Te"
	headerTrailer          = "Trailer"
	headerUserAgent        = "User-Agent"
	headerConnectVersion   = "Connect-Protocol-Version"
	headerConnectTimeout   = "Connect-Timeout-Ms"
	headerConnectEncoding  = "Connect-Content-Encoding"
	headerGRPCTimeout      = "Grpc-Timeout"
	headerAcceptPost       = "Accept-Post"
	connectTrailerPrefix   = "Trailer-"
	gatewayMetadataPrefix  = "Grpc-Metadata-"
	gatewayTrailerPrefix   = "Grpc-Trailer-"
	gatewayMetadataLowered = "grpc-metadata-"
)

var userAgent = "svcclient-go/" + runtime.Version

// protocolHeaders are the lower-cased names of headers that belong to HTTP
// or to the protocols spoken here, not to the application: they are not
// turned into metadata, and metadata with these keys is not sent.
var protocolHeaders = map[string]bool{
	"content-length":           true,
	"content-encoding":         true,
	"accept-encoding":          true,
	"transfer-encoding":        true,
	"connection":               true,
	"keep-alive":               true,
	"proxy-connection":         true,
	"upgrade":                  true,
	"te":                       true,
	"trailer":                  true,
	"host":                     true,
	"connect-protocol-version": true,
	"connect-timeout-ms":       true,
	"connect-content-encoding": true,
	"connect-accept-encoding":  true,
	"grpc-timeout":             true,
	"grpc-encoding":            true,
	"grpc-accept-encoding":     true,
}

// lowerHeaderNames caches the metadata key of header names that arrive on
// almost every request, so that building metadata does not lower-case them
// again each time.
var lowerHeaderNames = map[string]string{
	"Accept":          "accept",
	"Authorization":   "authorization",
	"Content-Type":    "content-type",
	"User-Agent":      "user-agent",
	"X-Forwarded-For": "x-forwarded-for",
	"Accept-Encoding": "accept-encoding",
	"Content-Length":  "content-length",
	"Te":              "te",
}

func metadataKey(header string) string {
	if k, ok := lowerHeaderNames[header]; ok {
		return k
	}
	return strings.ToLower(header)
}

// setMetadataHeaders writes md into h, each key under prefix (empty for the
// Connect protocol, "Grpc-Metadata-" for REST routes, as grpc-gateway reads
// and writes them). Binary values are base64-encoded.
func setMetadataHeaders(h http.Header, prefix string, md metadata.MD) {
	for k, vs := range md {
		if len(vs) == 0 || protocolHeaders[k] || strings.HasPrefix(k, ":") {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(prefix + k)
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = transport.EncodeMetadataValue(k, v)
		}
		h[name] = append(h[name], out...)
	}
}

// incomingMetadata turns request headers into the metadata a handler sees.
// Header names are lower-cased; grpc-gateway's "Grpc-Metadata-" prefix is
// removed, so a header sent either way arrives under the same key.
func incomingMetadata(h http.Header) (metadata.MD, error) {
	md := make(metadata.MD, len(h))
	for name, vs := range h {
		key := metadataKey(name)
		if strings.HasPrefix(key, gatewayMetadataLowered) {
			key = key[len(gatewayMetadataLowered):]
		} else if protocolHeaders[key] {
			continue
		}
		if key == "" {
			continue
		}
		if err := appendHeaderValues(md, key, name, vs); err != nil {
			return nil, err
		}
	}
	return md, nil
}

// appendHeaderValues adds the values of request header name to md under
// key, decoding the base64 of binary ("-bin") keys; a value that is not
// base64 is the client's InvalidArgument.
func appendHeaderValues(md metadata.MD, key, name string, vs []string) error {
	if !transport.IsBinaryKey(key) {
		md[key] = append(md[key], vs...)
		return nil
	}
	for _, v := range vs {
		d, err := transport.DecodeMetadataValue(key, v)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "header %s: invalid base64: %v", name, err)
		}
		md[key] = append(md[key], d)
	}
	return nil
}

// responseMetadata collects the headers of h that start with prefix into
// md, under their name without the prefix, lower-cased (prefix "" takes every
// header that is not a protocol header and not in skip).
func responseMetadata(md metadata.MD, h http.Header, prefix, skip string) metadata.MD {
	for name, vs := range h {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if skip != "" && strings.HasPrefix(name, skip) {
			continue
		}
		key := metadataKey(name[len(prefix):])
		if key == "" || (prefix == "" && protocolHeaders[key]) {
			continue
		}
		if md == nil {
			md = make(metadata.MD, len(h))
		}
		if transport.IsBinaryKey(key) {
			for _, v := range vs {
				if d, err := transport.DecodeMetadataValue(key, v); err == nil {
					md[key] = append(md[key], d)
				}
			}
			continue
		}
		md[key] = append(md[key], vs...)
	}
	return md
}

// Deadlines travel as Connect-Timeout-Ms (milliseconds, at most ten digits)
// on Connect routes and as Grpc-Timeout (at most eight digits and a unit, as
// on gRPC's own wire, which grpc-gateway forwards) on REST routes.

func encodeConnectTimeout(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++ // round up: never ask the server to stop early
	}
	if ms < 1 {
		ms = 1
	}
	s := strconv.FormatInt(ms, 10)
	if len(s) > 10 {
		return "" // beyond the protocol's range: effectively unbounded
	}
	return s
}

const maxGRPCTimeoutValue = 99999999

func encodeGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	units := [...]struct {
		unit time.Duration
		name string
	}{
		{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"},
		{time.Second, "S"}, {time.Minute, "M"}, {time.Hour, "H"},
	}
	for _, u := range units {
		v := int64(d / u.unit)
		if d%u.unit != 0 {
			v++
		}
		if v <= maxGRPCTimeoutValue {
			return strconv.FormatInt(v, 10) + u.name
		}
	}
	return "" // more than 11,000 years
}

func decodeGRPCTimeout(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s %q", headerGRPCTimeout, s)
	}
	v, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || v < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s %q", headerGRPCTimeout, s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s %q: unknown unit", headerGRPCTimeout, s)
	}
	if v > int64(math.MaxInt64/unit) {
		// Eight digits of hours (or minutes) overflow a Duration: clamp, as
		// grpc-go's decodeTimeout does, rather than wrap into a deadline
		// already past.
		return math.MaxInt64, nil
	}
	return time.Duration(v) * unit, nil
}

func decodeConnectTimeout(s string) (time.Duration, error) {
	if len(s) > 10 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s %q: more than 10 digits", headerConnectTimeout, s)
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "invalid %s %q", headerConnectTimeout, s)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// requestDeadline applies the request's timeout header, if any, to ctx.
func requestDeadline(ctx context.Context, h http.Header) (context.Context, context.CancelFunc, error) {
	var d time.Duration
	var err error
	if v := h[headerConnectTimeout]; len(v) > 0 {
		d, err = decodeConnectTimeout(v[0])
	} else if v := h[headerGRPCTimeout]; len(v) > 0 {
		d, err = decodeGRPCTimeout(v[0])
	} else {
		return ctx, nil, nil
	}
	if err != nil {
		return ctx, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}
