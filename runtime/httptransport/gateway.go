package httptransport

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/svcclient/svcclient/runtime/transport"
)

// This file maps metadata on REST routes as grpc-gateway does, so that our
// client talks to a gateway and our handler stands in for one.

// permanentHeaders are the IANA permanent HTTP headers grpc-gateway's
// default header matcher forwards to its backend, each as
// "grpcgateway-<name>" (Authorization also as itself).
var permanentHeaders = map[string]bool{
	"Accept": true, "Accept-Charset": true, "Accept-Language": true, "Accept-Ranges": true,
	"Authorization": true, "Cache-Control": true, "Content-Type": true, "Cookie": true,
	"Date": true, "Expect": true, "From": true, "Host": true, "If-Match": true,
	"If-Modified-Since": true, "If-None-Match": true, "If-Schedule-Tag-Match": true,
	"If-Unmodified-Since": true, "Max-Forwards": true, "Origin": true, "Pragma": true,
	"Referer": true, "User-Agent": true, "Via": true, "Warning": true,
}

const (
	gatewayForwardedPrefix = "grpcgateway-"
	headerXForwardedFor    = "X-Forwarded-For"
	headerXForwardedHost   = "X-Forwarded-Host"
)

// ownedHeaders are permanent headers the client sets itself: metadata with
// these keys is not sent as the header of that name.
var ownedHeaders = map[string]bool{"Accept": true, "Content-Type": true, "User-Agent": true, "Host": true}

// setGatewayMetadataHeaders writes md into h for a REST route: a key that
// is a permanent HTTP header (authorization, cookie, accept-language...)
// goes as that header, which a default grpc-gateway forwards; any other key
// goes as Grpc-Metadata-<key>, which grpc-gateway forwards with its legacy
// header matcher (or a matcher of the deployment's), and our handler always.
func setGatewayMetadataHeaders(h http.Header, md metadata.MD) {
	for k, vs := range md {
		if len(vs) == 0 || protocolHeaders[k] || strings.HasPrefix(k, ":") {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(k)
		if !permanentHeaders[name] || ownedHeaders[name] || transport.IsBinaryKey(k) {
			name = textproto.CanonicalMIMEHeaderKey(gatewayMetadataPrefix + k)
		}
		for _, v := range vs {
			h[name] = append(h[name], transport.EncodeMetadataValue(k, v))
		}
	}
}

// gatewayIncomingMetadata is the metadata grpc-gateway hands its backend
// for a request, which is what handlers on REST routes see:
//
//   - "authorization" from the Authorization header, as is;
//   - "grpcgateway-<name>" for every permanent HTTP header (grpcgateway-accept,
//     grpcgateway-user-agent, grpcgateway-authorization...);
//   - "x-forwarded-host" from X-Forwarded-Host or the request's Host, and
//     "x-forwarded-for" with the client's address appended to the
//     X-Forwarded-For values;
//   - "<key>" for every Grpc-Metadata-<key> header, as the gateway's legacy
//     matcher passes them (its default matcher since v2.33 drops them; we
//     keep them, because our client sends metadata that way), except keys
//     the gateway reserves (x-forwarded-*), so a client cannot spoof them.
//
// Other headers are not metadata on REST routes, as on the gateway.
func gatewayIncomingMetadata(r *http.Request) (metadata.MD, error) {
	md := make(metadata.MD, len(r.Header)+2)
	if vs := r.Header.Values("Authorization"); len(vs) > 0 {
		md["authorization"] = append([]string(nil), vs...)
	}
	for name, vs := range r.Header {
		switch {
		case permanentHeaders[name]:
			key := gatewayForwardedPrefix + metadataKey(name)
			md[key] = append(md[key], vs...)
		case strings.HasPrefix(name, gatewayMetadataPrefix):
			key := strings.ToLower(name[len(gatewayMetadataPrefix):])
			if key == "" || key == "x-forwarded-for" || key == "x-forwarded-host" {
				continue
			}
			if err := appendHeaderValues(md, key, name, vs); err != nil {
				return nil, err
			}
		}
	}
	if host := r.Header.Get(headerXForwardedHost); host != "" {
		md["x-forwarded-host"] = []string{host}
	} else if r.Host != "" {
		md["x-forwarded-host"] = []string{r.Host}
	}
	xff := r.Header.Values(headerXForwardedFor)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if len(xff) == 0 {
			xff = []string{ip}
		} else {
			xff = []string{strings.Join(xff, ", ") + ", " + ip}
		}
	}
	if len(xff) > 0 {
		md["x-forwarded-for"] = xff
	}
	return md, nil
}

// restHeaderMetadata is the header metadata of a REST response: the
// Grpc-Metadata-* headers, as grpc-gateway writes a call's header
// metadata, and Retry-After as "retry-after", which a proxy or load
// balancer in front of the server may set on a 429 or 503 and which a retry
// policy honours.
func restHeaderMetadata(h http.Header) metadata.MD {
	md := responseMetadata(nil, h, gatewayMetadataPrefix, "")
	if vs := h.Values("Retry-After"); len(vs) > 0 {
		if md == nil {
			md = metadata.MD{}
		}
		md["retry-after"] = append(md["retry-after"], vs...)
	}
	return md
}
