package retry

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

// FuzzParseServiceConfig: any input parses or fails with an error that
// names the service config; what parses is accepted by New.
func FuzzParseServiceConfig(f *testing.F) {
	f.Add(exampleConfig)
	f.Add(`{}`)
	f.Add(`{"methodConfig":[{"name":[{}],"timeout":"0.000000001s"}]}`)
	f.Add(`{"methodConfig":[{"name":[{"service":"s"}],"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1e308,"retryableStatusCodes":[14]}}]}`)
	f.Add(`{"retryThrottling":{"maxTokens":1000,"tokenRatio":1e-9}}`)
	f.Add(`{"methodConfig":[{"name":[{"service":"s"}],"hedgingPolicy":{}}]}`)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, js string) {
		sc, err := ParseServiceConfig(js)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "retry: service config") {
				t.Errorf("error %q does not say where it comes from", err)
			}
			return
		}
		if _, err := New(WithServiceConfig(sc)); err != nil {
			t.Errorf("a parsed config is refused by New: %v", err)
		}
	})
}

// FuzzPushback: any pushback header parses without panicking, gives a
// delay within bounds, and never both stops and delays.
func FuzzPushback(f *testing.F) {
	for _, s := range []string{"0", "250", "-1", "x", "9223372036854775807", "120", "Thu, 01 Jan 2026 00:00:10 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", ""} {
		f.Add(s, s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pushbackMs, retryAfter string) {
		d, retry, ok := ParsePushbackMs([]string{pushbackMs})
		if !ok || d < 0 || d > maxDelay || (!retry && d != 0) {
			t.Errorf("ParsePushbackMs(%q) = %v, %v, %v", pushbackMs, d, retry, ok)
		}
		if d, ok := ParseRetryAfter(retryAfter, now); d < 0 || d > maxDelay || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v", retryAfter, d, ok)
		}
		pb := readPushback(metadata.Pairs(RetryAfterHeader, retryAfter), metadata.Pairs(PushbackTrailer, pushbackMs), now)
		if pb.stop && pb.delay != 0 {
			t.Errorf("pushback %+v both stops and delays", pb)
		}
	})
}
