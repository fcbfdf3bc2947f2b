package transport

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ServerCall carries one call's response header and trailer on the server
// side of a transport other than gRPC. Installed in the handler's context,
// it makes grpc.SetHeader, grpc.SendHeader and grpc.SetTrailer work in
// handlers whatever transport carried the call.
type ServerCall struct {
	method     string
	transport  string
	message    MessageInfo
	mu         sync.Mutex
	header     metadata.MD
	trailer    metadata.MD
	headerSent bool
	// sendHeader, if set, writes the header to the wire at once (streaming
	// transports); otherwise the header goes out with the response.
	sendHeader func(metadata.MD) error
}

// NewServerCall returns a ServerCall for the method with gRPC path
// fullMethod. sendHeader may be nil.
func NewServerCall(fullMethod string, sendHeader func(metadata.MD) error) *ServerCall {
	return &ServerCall{method: fullMethod, sendHeader: sendHeader}
}

// Context returns ctx carrying c, for the handler.
func (c *ServerCall) Context(ctx context.Context) context.Context {
	return grpc.NewContextWithServerTransportStream(ctx, c)
}

// Method returns the gRPC path of the call.
func (c *ServerCall) Method() string { return c.method }

// SetTransport records the name of the transport that carried the call
// ("http", "amqp", "inprocess": the names runtime.AnsweredBy reports), so
// that server interceptors (tracing, metrics) can tell. Transports call it
// before running the handler.
func (c *ServerCall) SetTransport(name string) { c.transport = name }

// Transport returns the name given to SetTransport, or "".
func (c *ServerCall) Transport() string { return c.transport }

// MessageInfo describes the broker message that carried a call, for
// transports over a message broker: what OpenTelemetry's messaging
// conventions record.
type MessageInfo struct {
	// Destination is the queue the request was consumed from.
	Destination string
	// RoutingKey is the key the request was published with.
	RoutingKey string
	// CorrelationID pairs the request with its reply.
	CorrelationID string
}

// SetMessageInfo records the broker message that carried the call.
func (c *ServerCall) SetMessageInfo(m MessageInfo) { c.message = m }

// MessageInfo returns what SetMessageInfo recorded.
func (c *ServerCall) MessageInfo() MessageInfo { return c.message }

// ServerCallFromContext returns the ServerCall of a handler's context, or
// nil when the call did not come through a transport of this module that
// installs one (grpc.Server installs its own stream).
func ServerCallFromContext(ctx context.Context) *ServerCall {
	c, _ := grpc.ServerTransportStreamFromContext(ctx).(*ServerCall)
	return c
}

// SetHeader merges md into the response header.
func (c *ServerCall) SetHeader(md metadata.MD) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.headerSent {
		return status.Error(codes.Internal, "svcclient: SetHeader called after the header was sent")
	}
	c.header = metadata.Join(c.header, md)
	return nil
}

// SendHeader merges md into the response header and sends it.
func (c *ServerCall) SendHeader(md metadata.MD) error {
	c.mu.Lock()
	if c.headerSent {
		c.mu.Unlock()
		return status.Error(codes.Internal, "svcclient: the header was already sent")
	}
	c.header = metadata.Join(c.header, md)
	c.headerSent = true
	h, send := c.header, c.sendHeader
	c.mu.Unlock()
	if send != nil {
		return send(h)
	}
	return nil
}

// SetTrailer merges md into the response trailer.
func (c *ServerCall) SetTrailer(md metadata.MD) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trailer = metadata.Join(c.trailer, md)
	return nil
}

// Header returns the response header and marks it sent: later SetHeader
// calls fail, as they do on grpc-go.
func (c *ServerCall) Header() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headerSent = true
	return c.header
}

// Trailer returns the response trailer.
func (c *ServerCall) Trailer() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trailer
}
