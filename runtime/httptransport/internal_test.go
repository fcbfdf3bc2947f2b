package httptransport

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestUnescapePath(t *testing.T) {
	for _, tc := range []struct {
		in    string
		multi bool
		want  string
		err   bool
	}{
		{"a%2Fb%20c", false, "a/b c", false},
		{"a%2Fb%2fc/d", true, "a%2Fb%2fc/d", false},
		{"%C3%BC", true, "ü", false},
		{"plain", false, "plain", false},
		{"%zz", false, "", true},
		{"a%2", true, "", true},
	} {
		got, err := unescapePath(tc.in, tc.multi)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("unescapePath(%q, %v) = %q, %v; want %q (error %v)", tc.in, tc.multi, got, err, tc.want, tc.err)
		}
	}
}

func TestTimeouts(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 1500 * time.Microsecond, 3 * time.Second, 100 * time.Hour, 30 * 24 * time.Hour} {
		enc := encodeGRPCTimeout(d)
		got, err := decodeGRPCTimeout(enc)
		if err != nil || got < d || len(enc) > 9 {
			t.Errorf("Grpc-Timeout %v → %q → %v, %v; want at least %v in at most 9 characters", d, enc, got, err, d)
		}
		ms := encodeConnectTimeout(d)
		got, err = decodeConnectTimeout(ms)
		if err != nil || got < d.Truncate(time.Millisecond) || got == 0 {
			t.Errorf("Connect-Timeout-Ms %v → %q → %v, %v", d, ms, got, err)
		}
	}
	for _, bad := range []string{"", "1", "10x", "-1S", "123456789S"} {
		if _, err := decodeGRPCTimeout(bad); err == nil {
			t.Errorf("Grpc-Timeout %q accepted", bad)
		}
	}
	for _, bad := range []string{"x", "-5", "12345678901"} {
		if _, err := decodeConnectTimeout(bad); err == nil {
			t.Errorf("Connect-Timeout-Ms %q accepted", bad)
		}
	}
}

func TestSplitChunk(t *testing.T) {
	for _, tc := range []struct {
		line, payload string
		isErr, bad    bool
	}{
		{`{"result":{"a":1}}`, `{"a":1}`, false, false},
		{`{ "result" : {"a": 1} }`, `{"a": 1}`, false, false},
		{`{"error":{"code":5}}`, `{"code":5}`, true, false},
		{`{"other":1}`, "", false, true},
		{`[1]`, "", false, true},
	} {
		payload, isErr, err := splitChunk([]byte(tc.line))
		if (err != nil) != tc.bad || string(payload) != tc.payload || isErr != tc.isErr {
			t.Errorf("splitChunk(%s) = %s, %v, %v", tc.line, payload, isErr, err)
		}
	}
}

// TestHugeTimeouts checks that the largest timeouts the headers can carry
// decode to a long deadline, not an overflowed one already past.
func TestHugeTimeouts(t *testing.T) {
	for _, h := range []struct{ name, value string }{
		{headerGRPCTimeout, "99999999H"},
		{headerGRPCTimeout, "99999999M"},
		{headerGRPCTimeout, "99999999S"},
		{headerConnectTimeout, "9999999999"},
	} {
		ctx, cancel, err := requestDeadline(context.Background(), http.Header{h.name: {h.value}})
		if err != nil {
			t.Fatalf("%s: %s: %v", h.name, h.value, err)
		}
		deadline, _ := ctx.Deadline()
		if left := time.Until(deadline); left < 1000*time.Hour || ctx.Err() != nil {
			t.Errorf("%s: %s: deadline in %v (context error %v); want years away", h.name, h.value, left, ctx.Err())
		}
		cancel()
	}
}

// TestRequestBodyCloseWhileReading: net/http may close a request body
// while another goroutine reads it (HTTP/2 aborting a request whose stream
// ended). Once Close returned, the pooled buffer may serve another request,
// so no Read may touch it any more. Under -race this failed before Read
// and Close took turns.
func TestRequestBodyCloseWhileReading(t *testing.T) {
	for range 200 {
		buf := getBuffer()
		buf.WriteString(strings.Repeat("x", 1<<10))
		body := newRequestBody(buf)
		r := body.reader()
		done := make(chan struct{})
		go func() {
			defer close(done)
			p := make([]byte, 16)
			for {
				if _, err := r.Read(p); err != nil {
					return
				}
			}
		}()
		_ = r.Close()
		body.release()
		// Another request encodes into the pooled buffers.
		b := getBuffer()
		b.WriteString(strings.Repeat("y", 1<<10))
		putBuffer(b)
		<-done
	}
}
