package amqptransport

import (
	"errors"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// errConnClosed ends calls on a Conn that is closed, as grpc-go ends them
// on a closing ClientConn.
var errConnClosed = transport.NotSent(status.Error(codes.Canceled, "amqptransport: the connection is closing"))

const errStreaming = "amqptransport: %s is a %v method; AMQP carries unary calls only: use gRPC, HTTP or the in-process transport for streams"

// channelError returns the status for the end of a channel that carried
// calls. isolated says the channel carried one call only, so that an error
// the broker raised on it is that call's own.
func channelError(e *amqp.Error, connLost, isolated bool) error {
	if e == nil {
		return status.Error(codes.Unavailable, "amqptransport: channel closed")
	}
	if connLost {
		return status.Errorf(codes.Unavailable, "amqptransport: connection to the broker lost: %s", describe(e))
	}
	if !isolated {
		// The broker closed a channel shared by many calls for what one of
		// them did: the others' replies are lost with it, and the request
		// may have been served, so it is not marked NotSent.
		return status.Errorf(codes.Unavailable, "amqptransport: request channel closed by the broker: %s", describe(e))
	}
	// These are the errors RabbitMQ raises while validating a basic.publish,
	// before routing: the request went nowhere.
	switch e.Code {
	case amqp.NotFound:
		return transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: broker refused the request: %s", describe(e)))
	case amqp.AccessRefused:
		return transport.NotSent(status.Errorf(codes.PermissionDenied, "amqptransport: broker refused the request: %s", describe(e)))
	case amqp.PreconditionFailed:
		if isSizeError(e) {
			return transport.NotSent(status.Errorf(codes.ResourceExhausted, "amqptransport: broker refused the request: %s", describe(e)))
		}
		return transport.NotSent(status.Errorf(codes.FailedPrecondition, "amqptransport: broker refused the request: %s", describe(e)))
	case amqp.ContentTooLarge:
		return transport.NotSent(status.Errorf(codes.ResourceExhausted, "amqptransport: broker refused the request: %s", describe(e)))
	}
	return status.Errorf(codes.Internal, "amqptransport: broker closed the request channel: %s", describe(e))
}

// isSizeError reports whether a 406 is RabbitMQ's "message size N is larger
// than configured max size M".
func isSizeError(e *amqp.Error) bool {
	return strings.Contains(e.Reason, "larger than") || strings.Contains(e.Reason, "max size")
}

func describe(e *amqp.Error) string {
	return e.Reason + " (" + codeName(e.Code) + ")"
}

func codeName(code int) string {
	switch code {
	case amqp.ContentTooLarge:
		return "311 content-too-large"
	case amqp.NoConsumers:
		return "313 no-consumers"
	case amqp.ConnectionForced:
		return "320 connection-forced"
	case amqp.InvalidPath:
		return "402 invalid-path"
	case amqp.AccessRefused:
		return "403 access-refused"
	case amqp.NotFound:
		return "404 not-found"
	case amqp.ResourceLocked:
		return "405 resource-locked"
	case amqp.PreconditionFailed:
		return "406 precondition-failed"
	case amqp.FrameError:
		return "501 frame-error"
	case amqp.InternalError:
		return "541 internal-error"
	}
	return "code " + strconv.Itoa(code)
}

// publishError is the status for a basic.publish that returned an error. An
// amqp.ErrClosed means the channel or connection was closed before the
// message's frames were all written, so the broker cannot have routed it.
func publishError(err error) error {
	if errors.Is(err, amqp.ErrClosed) {
		return transport.NotSent(status.Errorf(codes.Unavailable, "amqptransport: publishing the request: %v", err))
	}
	return status.Errorf(codes.Unavailable, "amqptransport: publishing the request: %v", err)
}
