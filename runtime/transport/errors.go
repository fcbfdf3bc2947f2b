package transport

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ToStatusError returns err unchanged if it carries a gRPC status, and
// otherwise the status a context error maps to (Canceled, DeadlineExceeded)
// or Unknown, so that every error a call returns works with status.FromError.
func ToStatusError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.FromContextError(err).Err()
}

// ContextError returns ctx's error as a status error, or nil while ctx is
// live.
func ContextError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// ErrNotSent matches, with errors.Is, every error of a call whose request
// never left the client: a connection that could not be made, or a call the
// transport refused before sending (a stream kind it cannot carry, say).
// Such a call may be retried on another transport whatever its method's
// idempotency. runtime.ErrNotSent is the same value.
var ErrNotSent = errors.New("svcclient: request not sent")

// NotSent marks err as an error of a call whose request was never sent. The
// result keeps err's status (Unavailable when err has none) and matches
// both ErrNotSent and err with errors.Is.
func NotSent(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.New(codes.Unavailable, err.Error())
	}
	return &notSentError{st: st, cause: err}
}

type notSentError struct {
	st    *status.Status
	cause error
}

func (e *notSentError) Error() string              { return e.st.Err().Error() }
func (e *notSentError) GRPCStatus() *status.Status { return e.st }
func (e *notSentError) Unwrap() []error            { return []error{ErrNotSent, e.cause} }

// ProtoMessages returns a call's request and reply as proto.Message values.
// Transports in this module carry protobuf messages only; anything else is
// refused before sending, with an Internal status.
func ProtoMessages(fullMethod string, req, reply any) (in, out proto.Message, err error) {
	in, ok := req.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok || !ok2 {
		return nil, nil, NotSent(status.Errorf(codes.Internal, "%s: request and reply must be proto.Message values, not %T and %T", fullMethod, req, reply))
	}
	return in, out, nil
}
