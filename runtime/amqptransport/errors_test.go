package amqptransport

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime"
)

func TestChannelError(t *testing.T) {
	size := &amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - message size 300 is larger than configured max size 200"}
	for _, tc := range []struct {
		name               string
		e                  *amqp.Error
		connLost, isolated bool
		code               codes.Code
		notSent            bool
		message            string
	}{
		{"no cause", nil, false, true, codes.Unavailable, false, "channel closed"},
		{"connection lost", &amqp.Error{Code: amqp.ConnectionForced, Reason: "shutdown"}, true, true, codes.Unavailable, false, "320 connection-forced"},
		{"shared channel", &amqp.Error{Code: amqp.NotFound, Reason: "no exchange"}, false, false, codes.Unavailable, false, "request channel closed"},
		{"missing exchange", &amqp.Error{Code: amqp.NotFound, Reason: "no exchange"}, false, true, codes.Unavailable, true, "404 not-found"},
		{"access refused", &amqp.Error{Code: amqp.AccessRefused, Reason: "no"}, false, true, codes.PermissionDenied, true, "403 access-refused"},
		{"too large for the broker", size, false, true, codes.ResourceExhausted, true, "406 precondition-failed"},
		{"other precondition", &amqp.Error{Code: amqp.PreconditionFailed, Reason: "invalid expiration"}, false, true, codes.FailedPrecondition, true, "invalid expiration"},
		{"content too large", &amqp.Error{Code: amqp.ContentTooLarge, Reason: "big"}, false, true, codes.ResourceExhausted, true, "311 content-too-large"},
		{"anything else", &amqp.Error{Code: amqp.InternalError, Reason: "oops"}, false, true, codes.Internal, false, "541 internal-error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := channelError(tc.e, tc.connLost, tc.isolated)
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.message) {
				t.Errorf("status %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.message)
			}
			if got := errors.Is(err, runtime.ErrNotSent); got != tc.notSent {
				t.Errorf("not sent = %v, want %v", got, tc.notSent)
			}
		})
	}
}

func TestCodeName(t *testing.T) {
	for code, want := range map[int]string{
		amqp.ContentTooLarge:    "311 content-too-large",
		amqp.NoConsumers:        "313 no-consumers",
		amqp.ConnectionForced:   "320 connection-forced",
		amqp.InvalidPath:        "402 invalid-path",
		amqp.AccessRefused:      "403 access-refused",
		amqp.NotFound:           "404 not-found",
		amqp.ResourceLocked:     "405 resource-locked",
		amqp.PreconditionFailed: "406 precondition-failed",
		amqp.FrameError:         "501 frame-error",
		amqp.InternalError:      "541 internal-error",
		999:                     "code 999",
	} {
		if got := codeName(code); got != want {
			t.Errorf("codeName(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestPublishError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		notSent bool
	}{
		{amqp.ErrClosed, true},
		{fmt.Errorf("wrapped: %w", amqp.ErrClosed), true},
		{errors.New("write: broken pipe"), false},
	} {
		err := publishError(tc.err)
		if status.Code(err) != codes.Unavailable {
			t.Errorf("publishError(%v): code %v, want Unavailable", tc.err, status.Code(err))
		}
		if got := errors.Is(err, runtime.ErrNotSent); got != tc.notSent {
			t.Errorf("publishError(%v): not sent = %v, want %v", tc.err, got, tc.notSent)
		}
	}
}
