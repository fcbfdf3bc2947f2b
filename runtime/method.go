package runtime

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// StreamKind says which side of a call sends a stream of messages.
type StreamKind uint8

const (
	// Unary methods take one request and return one response.
	Unary StreamKind = iota
	// ServerStream methods take one request and return a stream of responses.
	ServerStream
	// ClientStream methods take a stream of requests and return one response.
	ClientStream
	// BidiStream methods stream in both directions at once.
	BidiStream
)

// String returns the kind as it is written in documentation.
func (k StreamKind) String() string {
	switch k {
	case Unary:
		return "unary"
	case ServerStream:
		return "server streaming"
	case ClientStream:
		return "client streaming"
	case BidiStream:
		return "bidi streaming"
	}
	return "unknown stream kind"
}

// ClientStreams reports whether the client sends more than one message.
func (k StreamKind) ClientStreams() bool { return k == ClientStream || k == BidiStream }

// ServerStreams reports whether the server sends more than one message.
func (k StreamKind) ServerStreams() bool { return k == ServerStream || k == BidiStream }

// Idempotency is a method's idempotency_level option.
type Idempotency uint8

const (
	// IdempotencyUnknown is the default: the method may have side effects, so
	// a request must never be sent twice.
	IdempotencyUnknown Idempotency = iota
	// NoSideEffects methods only read (idempotency_level = NO_SIDE_EFFECTS).
	NoSideEffects
	// Idempotent methods may be repeated safely (idempotency_level = IDEMPOTENT).
	Idempotent
)

// String returns the level as it is spelled in a .proto file.
func (i Idempotency) String() string {
	switch i {
	case NoSideEffects:
		return "NO_SIDE_EFFECTS"
	case Idempotent:
		return "IDEMPOTENT"
	}
	return "IDEMPOTENCY_UNKNOWN"
}

// Repeatable reports whether sending the request twice is safe.
func (i Idempotency) Repeatable() bool { return i != IdempotencyUnknown }

// MethodDesc describes one RPC method. Generated code declares one per method
// as a package-level value; transports read it on every call, so everything
// here is decided once, at generation time.
type MethodDesc struct {
	// Name is the method's name as declared, e.g. "SayHello".
	Name string
	// FullMethod is the gRPC method path, "/package.Service/Method". It is
	// also the Connect route and the AMQP method header.
	FullMethod string
	// Kind says which sides stream.
	Kind StreamKind
	// Idempotency is the method's idempotency_level.
	Idempotency Idempotency
	// HTTP holds the method's google.api.http bindings, the primary one first
	// and its additional_bindings after it; empty when the method has no
	// annotation. Their templates were parsed and their field paths checked
	// against the request message by the generator.
	HTTP []HTTPRule

	// NewRequest and NewResponse return empty messages of the method's input
	// and output types.
	NewRequest  func() proto.Message
	NewResponse func() proto.Message

	// Handler calls a unary method on an implementation of the service
	// interface. It is nil for streaming methods.
	Handler func(impl any, ctx context.Context, req proto.Message) (proto.Message, error)
	// StreamHandler calls a streaming method on an implementation of the
	// service interface. It is nil for unary methods.
	StreamHandler func(impl any, stream grpc.ServerStream) error
}

// ServiceDesc describes a service: its name and its methods in declaration
// order. Generated code declares one per service.
type ServiceDesc struct {
	// Name is the fully-qualified service name, e.g. "helloworld.Greeter".
	Name string
	// HandlerType is a nil pointer to the generated server interface; serving
	// an implementation that does not satisfy it is an error.
	HandlerType any
	// Methods lists every method in declaration order.
	Methods []MethodDesc
	// File is the .proto file that declares the service.
	File string
}

// HTTPRule is one parsed google.api.http binding.
type HTTPRule struct {
	// Method is the HTTP method: GET, PUT, POST, DELETE, PATCH, or the kind
	// of a custom pattern.
	Method string
	// Pattern is the path template as written in the .proto file, kept for
	// error messages and documentation.
	Pattern string
	// Segments is the template's path, one element per '/'-separated
	// segment, without the verb.
	Segments []PathSegment
	// Variables are the template's {field.path=...} captures.
	Variables []PathVariable
	// Verb is the template's ":verb" suffix without its colon, or "".
	Verb string
	// Body is "" when the request has no body, "*" when the whole request
	// message is the body, or the name of the request field that is.
	Body string
	// ResponseBody is "" when the whole response message is the body, or the
	// name of the response field that is.
	ResponseBody string
}

// SegmentKind says how a path segment matches.
type SegmentKind uint8

const (
	// Literal segments match their text exactly.
	Literal SegmentKind = iota
	// Wildcard segments ("*") match exactly one segment.
	Wildcard
	// DeepWildcard segments ("**") match the rest of the path, zero or more
	// segments. Only the last segment may be one.
	DeepWildcard
)

// PathSegment is one segment of a path template.
type PathSegment struct {
	Kind    SegmentKind
	Literal string // the text of a Literal segment
}

// PathVariable binds the path segments [Start, End) of a template to a field
// of the request message.
type PathVariable struct {
	// FieldPath is the field's path from the request message, by proto
	// field name: ["user", "user_id"] for {user.user_id}.
	FieldPath []string
	// Start and End index HTTPRule.Segments.
	Start, End int
}
