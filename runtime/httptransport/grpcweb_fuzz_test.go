package httptransport

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
)

type fuzzGreeter struct {
	helloworld.UnimplementedGreeterServer
}

func (fuzzGreeter) SayHello(_ context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	return &helloworld.HelloReply{Message: in.GetName()}, nil
}

// FuzzGRPCWebHandler posts random bodies to a unary and a server-streaming
// method over gRPC-Web, binary and text: the handler must not panic, must
// answer 200, and its body must be whole envelopes ending in exactly one
// trailer envelope that carries a grpc-status.
func FuzzGRPCWebHandler(f *testing.F) {
	h := NewHandler(nil)
	helloworld.RegisterGreeterServer(h, fuzzGreeter{})
	streamingv1.RegisterCounterServiceServer(h, webCounter{})
	hello, _ := proto.Marshal(&helloworld.HelloRequest{Name: "fuzz"})
	count, _ := proto.Marshal(&streamingv1.CountRequest{To: 2})
	env := func(flags byte, b []byte) []byte {
		return binary.BigEndian.AppendUint32([]byte{flags}, uint32(len(b)))
	}
	for _, seed := range [][]byte{
		append(env(0, hello), hello...), append(env(0, count), count...), nil, {0}, {0, 0, 0, 0, 0},
		{1, 0, 0, 0, 1, 0}, {0x80, 0, 0, 0, 0}, {0, 0xff, 0xff, 0xff, 0xff},
		append(append(env(0, hello), hello...), append(env(0, hello), hello...)...),
	} {
		f.Add(seed, false, false)
		f.Add(seed, true, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, stream, text bool) {
		path, ct := "/helloworld.Greeter/SayHello", "application/grpc-web+proto"
		if stream {
			path = "/example.streaming.v1.CounterService/Count"
		}
		if text {
			ct = "application/grpc-web-text"
			body = []byte(base64.StdEncoding.EncodeToString(body))
		}
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d", w.Code)
		}
		out := w.Body.Bytes()
		if text {
			var err error
			if out, err = decodeBase64Chunks(out); err != nil {
				t.Fatalf("text response: %v", err)
			}
		}
		trailers := 0
		for len(out) > 0 {
			if len(out) < envelopePrefixLen {
				t.Fatalf("truncated envelope %q", out)
			}
			n := int(binary.BigEndian.Uint32(out[1:5]))
			if len(out) < envelopePrefixLen+n {
				t.Fatalf("truncated message %q", out)
			}
			if out[0]&flagGRPCWebTrailer != 0 {
				trailers++
				if _, ok := grpcStatusFromHeader(parseGRPCWebTrailer(out[5 : 5+n])); !ok {
					t.Fatalf("trailer without grpc-status: %q", out[5:5+n])
				}
			} else if trailers > 0 {
				t.Fatal("a message after the trailer")
			}
			out = out[envelopePrefixLen+n:]
		}
		if trailers != 1 {
			t.Fatalf("%d trailer envelopes, want 1", trailers)
		}
	})
}
