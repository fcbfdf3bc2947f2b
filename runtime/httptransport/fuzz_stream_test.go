package httptransport

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
)

// FuzzClientStreamRequest feeds any bytes to the handler as the body of a
// client-streaming call, plain or declared gzip: the handler must answer
// 200 with a well-formed stream that ends in an end-of-stream message,
// failing a bad body with InvalidArgument (or ResourceExhausted past the
// limit; Internal for a compressed message in an identity stream, as the
// Connect protocol says), never with Unknown, and never panic.
func FuzzClientStreamRequest(f *testing.F) {
	envelope := func(flags byte, msg []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{flags}, uint32(len(msg))), msg...)
	}
	one, _ := proto.Marshal(&streamingv1.SumRequest{Number: 1})
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(one)
	_ = zw.Close()
	f.Add([]byte{}, false)
	f.Add(envelope(0, one), false)
	f.Add(append(envelope(0, one), envelope(0, one)...), false)
	f.Add(envelope(1, zipped.Bytes()), true)
	f.Add(envelope(1, zipped.Bytes()), false)
	f.Add(envelope(1, []byte("not gzip")), true)
	f.Add(envelope(2, []byte("{}")), false)
	f.Add(envelope(0, []byte{0xff, 0xff}), false)
	f.Add([]byte{0, 0, 0, 0, 9, 1}, false)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff}, false)
	h := NewHandler(streamingv1svc.NewCounterServiceService(conformance.Counter{}), WithReadMaxBytes(1<<10))
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		req := httptest.NewRequest(http.MethodPost, "/example.streaming.v1.CounterService/Sum", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/connect+proto")
		if gzipped {
			req.Header.Set("Connect-Content-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		r := bytes.NewReader(rec.Body.Bytes())
		for {
			flags, data, err := readEnvelope(r, nil, 0)
			if err != nil {
				t.Fatalf("response stream: %v", err)
			}
			if flags&flagEndStream == 0 {
				var resp streamingv1.SumResponse
				if err := proto.Unmarshal(data, &resp); err != nil {
					t.Fatalf("response message: %v", err)
				}
				continue
			}
			endErr, _ := parseEndStream(data)
			switch code := status.Code(endErr); {
			case code == codes.OK, code == codes.InvalidArgument, code == codes.ResourceExhausted:
			case code == codes.Internal && !gzipped:
				// A message flagged compressed in an identity stream:
				// Internal, as the Connect protocol has it.
			default:
				t.Fatalf("end of stream: %v", endErr)
			}
			if r.Len() != 0 {
				t.Fatalf("%d bytes after the end of the stream", r.Len())
			}
			return
		}
	})
}
