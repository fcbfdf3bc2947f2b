package retry

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// Metadata keys of server pushback.
const (
	// PushbackTrailer is grpc-go's trailer: milliseconds to wait before the
	// next attempt, or a negative value to stop retrying.
	PushbackTrailer = "grpc-retry-pushback-ms"
	// RetryAfterHeader is HTTP's Retry-After as header metadata.
	RetryAfterHeader = "retry-after"
)

// pushback is a server's word on the next attempt.
type pushback struct {
	set   bool          // the server said something
	stop  bool          // do not retry
	delay time.Duration // wait exactly this long, when set and !stop
}

// ParsePushbackMs reads grpc-retry-pushback-ms values as grpc-go does:
// exactly one non-negative decimal integer is a delay; anything else (a
// negative number, text, several values) asks not to retry. No value at
// all says nothing (ok false).
func ParsePushbackMs(values []string) (delay time.Duration, retry, ok bool) {
	if len(values) == 0 {
		return 0, true, false
	}
	if len(values) > 1 {
		return 0, false, true
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(values[0]), 10, 64)
	if err != nil || ms < 0 || ms > int64(maxDelay/time.Millisecond) {
		return 0, false, true
	}
	return time.Duration(ms) * time.Millisecond, true, true
}

// maxDelay bounds any pushback, so that arithmetic on it cannot overflow; a
// call is bounded by its deadline long before.
const maxDelay = 100 * 365 * 24 * time.Hour

// ParseRetryAfter reads an HTTP Retry-After value (RFC 9110 section
// 10.2.3): delay-seconds or an HTTP-date, relative to now. A date in the
// past is no delay. A malformed value is ignored (ok false), as HTTP asks.
func ParseRetryAfter(value string, now time.Time) (delay time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if digits(value) {
		secs, err := strconv.ParseInt(value, 10, 64)
		if err != nil || secs > int64(maxDelay/time.Second) {
			return maxDelay, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxDelay), true
}

// readPushback reads the pushback of one attempt: grpc-retry-pushback-ms
// wins over Retry-After.
func readPushback(header, trailer metadata.MD, now time.Time) pushback {
	values := trailer.Get(PushbackTrailer)
	if len(values) == 0 {
		// The HTTP transport reports Connect trailers of trailers-only
		// errors as trailer metadata, but a proxy's header lands in header.
		values = header.Get(PushbackTrailer)
	}
	if d, retry, ok := ParsePushbackMs(values); ok {
		return pushback{set: true, stop: !retry, delay: d}
	}
	if vs := header.Get(RetryAfterHeader); len(vs) > 0 {
		if d, ok := ParseRetryAfter(vs[0], now); ok {
			return pushback{set: true, delay: d}
		}
	}
	return pushback{}
}
