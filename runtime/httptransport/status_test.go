package httptransport

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
)

func TestHTTPStatusTable(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
		codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
		codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
	}
	for c, h := range want {
		if got := httpStatusFromCode(c); got != h {
			t.Errorf("httpStatusFromCode(%v) = %d, want %d", c, got, h)
		}
	}
	for h, c := range map[int]codes.Code{
		200: codes.OK, 400: codes.Internal, 401: codes.Unauthenticated, 403: codes.PermissionDenied,
		404: codes.Unimplemented, 429: codes.Unavailable, 502: codes.Unavailable,
		503: codes.Unavailable, 504: codes.Unavailable, 418: codes.Unknown, http.StatusInternalServerError: codes.Unknown,
	} {
		if got := codeFromHTTPStatus(h); got != c {
			t.Errorf("codeFromHTTPStatus(%d) = %v, want %v", h, got, c)
		}
	}
}
