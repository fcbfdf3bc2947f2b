package transport

import (
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
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

// KindOf returns the kind of a streaming call from its grpc.StreamDesc.
func KindOf(desc *grpc.StreamDesc) StreamKind {
	switch {
	case desc.ClientStreams && desc.ServerStreams:
		return BidiStream
	case desc.ClientStreams:
		return ClientStream
	case desc.ServerStreams:
		return ServerStream
	}
	return Unary
}

var streamDescs = [...]grpc.StreamDesc{
	ServerStream: {ServerStreams: true},
	ClientStream: {ClientStreams: true},
	BidiStream:   {ClientStreams: true, ServerStreams: true},
}

// StreamDesc returns the grpc.StreamDesc that opens a stream of kind k with
// grpc.ClientConnInterface.NewStream. The result is shared: do not change it.
func StreamDesc(k StreamKind) *grpc.StreamDesc { return &streamDescs[k] }

// MethodDesc is what a transport knows of a method: facts read once from
// protoc-gen-go's descriptor, never printed a second time into generated
// code.
type MethodDesc struct {
	// Desc is the method's descriptor.
	Desc protoreflect.MethodDescriptor
	// FullMethod is the gRPC method path, "/package.Service/Method". It is
	// also the Connect route and the AMQP method header.
	FullMethod string
	// Kind says which sides stream.
	Kind StreamKind
	// Idempotency is the method's idempotency_level option.
	Idempotency descriptorpb.MethodOptions_IdempotencyLevel

	request, response protoreflect.MessageType
}

// Repeatable reports whether sending the request twice is harmless: the
// method is marked NO_SIDE_EFFECTS or IDEMPOTENT.
func (m *MethodDesc) Repeatable() bool {
	return m.Idempotency != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN
}

// NewRequest returns an empty request message.
func (m *MethodDesc) NewRequest() proto.Message { return m.request.New().Interface() }

// NewResponse returns an empty response message.
func (m *MethodDesc) NewResponse() proto.Message { return m.response.New().Interface() }

// methods caches every MethodDesc built, by FullMethod. Lookups vastly
// outnumber stores (one per method per process), which is sync.Map's case.
var methods sync.Map // string -> *MethodDesc

// Describe returns the MethodDesc of md, built on first use and shared after.
func Describe(md protoreflect.MethodDescriptor) *MethodDesc {
	fullMethod := FullMethod(md)
	if m, ok := methods.Load(fullMethod); ok {
		return m.(*MethodDesc)
	}
	m := &MethodDesc{
		Desc:       md,
		FullMethod: fullMethod,
		request:    messageType(md.Input()),
		response:   messageType(md.Output()),
	}
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		m.Kind = BidiStream
	case md.IsStreamingClient():
		m.Kind = ClientStream
	case md.IsStreamingServer():
		m.Kind = ServerStream
	}
	if opts, ok := md.Options().(*descriptorpb.MethodOptions); ok {
		m.Idempotency = opts.GetIdempotencyLevel()
	}
	stored, _ := methods.LoadOrStore(fullMethod, m)
	return stored.(*MethodDesc)
}

// FullMethod returns the gRPC method path of md: "/package.Service/Method".
func FullMethod(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}

// messageType returns the generated type of a message, or a dynamic one
// when no generated type is linked in.
func messageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

// Lookup returns the MethodDesc of a gRPC method path. Methods of services
// described by generated code are found at once; any other method is found
// in the global protobuf registry (where protoc-gen-go's init registers
// every file), so clients generated by protoc-gen-go-grpc work too. The
// error is an Unimplemented status.
func Lookup(fullMethod string) (*MethodDesc, error) {
	if m, ok := methods.Load(fullMethod); ok {
		return m.(*MethodDesc), nil
	}
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok || !strings.HasPrefix(fullMethod, "/") {
		return nil, status.Errorf(codes.Unimplemented, "malformed method name %q: want /package.Service/Method", fullMethod)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown service %s: its .proto file is not linked into this program", service)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "unknown service %s: the name is a %s", service, kindName(d))
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s of service %s", method, service)
	}
	return Describe(md), nil
}

func kindName(d protoreflect.Descriptor) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", d), "*filedesc.")
}
