package runtime

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ToStatusError returns err as an error that carries a gRPC status, so that
// status.FromError and status.Code give the right code for every error a
// call returns. Errors that already carry a status are returned as they are;
// context errors become Canceled and DeadlineExceeded; anything else becomes
// Unknown with the error's text, as grpc-go does.
func ToStatusError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.FromContextError(err).Err()
}

// ContextError returns the status error for a context that is done:
// Canceled or DeadlineExceeded.
func ContextError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// ErrNotSent marks an error that happened before any byte of the request
// left the client: the service cannot have seen the request, so trying it
// elsewhere is always safe. Transports wrap such errors with [NotSent]; the
// fallback transport looks for it with errors.Is.
var ErrNotSent = errors.New("svcclient: request not sent")

// NotSent marks err as having happened before the request was sent. The
// result keeps err's status (Unavailable if err carries none).
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

// HTTPStatusFromCode maps a gRPC code to an HTTP status, by the table that
// grpc-gateway and the Connect protocol share.
func HTTPStatusFromCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // Client Closed Request, as nginx and both peers use it
	case codes.Unknown:
		return http.StatusInternalServerError
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Aborted:
		return http.StatusConflict
	case codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Internal:
		return http.StatusInternalServerError
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DataLoss:
		return http.StatusInternalServerError
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// CodeFromHTTPStatus maps an HTTP status to a gRPC code for responses that
// carry no status of their own (a proxy's error page, say), by the table in
// gRPC's http-grpc-status-mapping document.
func CodeFromHTTPStatus(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}
