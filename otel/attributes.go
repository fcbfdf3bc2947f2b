package svcotel

import (
	"net"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/grpc/codes"
)

// Transport names, as runtime.AnsweredBy reports them.
const (
	transportGRPC      = "grpc"
	transportHTTP      = "http"
	transportAMQP      = "amqp"
	transportInProcess = "inprocess"
)

// TransportKey is the span attribute naming the svcclient transport that
// carried a call: "grpc", "http", "amqp" or "inprocess". rpc.system.name
// says the same in the conventions' words where they have one.
const TransportKey = attribute.Key("svcclient.transport")

// systemName returns rpc.system.name for a transport. gRPC and Connect (the
// HTTP transport's protocol; its REST routes follow grpc-gateway's, which
// the conventions do not name) are values of the conventions; AMQP and in
// process are svcclient's own, as the conventions allow for systems they do
// not list.
func systemName(transport string) attribute.KeyValue {
	switch transport {
	case transportGRPC:
		return semconv.RPCSystemNameGRPC
	case transportHTTP:
		return semconv.RPCSystemNameConnectrpc
	case transportAMQP:
		return semconv.RPCSystemNameKey.String("svcclient_amqp")
	case transportInProcess:
		return semconv.RPCSystemNameKey.String("svcclient_inprocess")
	}
	return semconv.RPCSystemNameKey.String("_OTHER")
}

// statusNames are the gRPC codes as rpc.response.status_code spells them.
var statusNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

func statusName(c codes.Code) string {
	if int(c) < len(statusNames) {
		return statusNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// serverError reports whether a server failed by answering c. The gRPC
// conventions count only these codes as server errors: the others
// (NotFound, InvalidArgument, ...) are the client's doing, or an answer.
// On the client every code but OK is an error.
func serverError(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// addressAttrs returns server.address and server.port for a network
// address, or nothing for one without a port (an in-process call).
func addressAttrs(addr net.Addr, attrs []attribute.KeyValue) []attribute.KeyValue {
	if addr == nil {
		return attrs
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return attrs
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// spanName returns the span name and rpc.method of a gRPC path:
// "/pkg.Service/Method" → "pkg.Service/Method".
func spanName(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

// serviceName returns the service of a gRPC path, the AMQP request queue's
// default name.
func serviceName(fullMethod string) string {
	service, _, _ := strings.Cut(spanName(fullMethod), "/")
	return service
}
