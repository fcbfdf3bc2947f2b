package httptransport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// webFrame is one gRPC-Web envelope as a client reads it.
type webFrame struct {
	flags byte
	data  []byte
}

// callGRPCWeb is a minimal gRPC-Web client, written from PROTOCOL-WEB.md:
// it posts one enveloped message and splits the response into envelopes,
// the last of which must be the trailer envelope (flag 0x80).
func callGRPCWeb(t *testing.T, client *http.Client, url, contentType string, header http.Header, msg proto.Message) (*http.Response, []webFrame, http.Header) {
	t.Helper()
	data, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	body := grpcEnvelope(0, data)
	text := strings.HasPrefix(contentType, "application/grpc-web-text")
	if text {
		body = []byte(base64.StdEncoding.EncodeToString(body))
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Grpc-Web", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if text {
		// Each write is its own padded base64 chunk: decode them one by one.
		var dec []byte
		for len(raw) > 0 {
			n := bytes.IndexByte(raw, '=')
			end := len(raw)
			if n >= 0 {
				end = n + 1
				if end < len(raw) && raw[end] == '=' {
					end++
				}
			}
			chunk, err := base64.StdEncoding.DecodeString(string(raw[:end]))
			if err != nil {
				t.Fatalf("grpc-web-text response: %v", err)
			}
			dec, raw = append(dec, chunk...), raw[end:]
		}
		raw = dec
	}
	var frames []webFrame
	for len(raw) > 0 {
		if len(raw) < 5 {
			t.Fatalf("truncated envelope %q", raw)
		}
		n := binary.BigEndian.Uint32(raw[1:5])
		frames = append(frames, webFrame{raw[0], raw[5 : 5+n]})
		raw = raw[5+n:]
	}
	if len(frames) == 0 || frames[len(frames)-1].flags != 0x80 {
		t.Fatalf("response does not end in a trailer envelope: %v", frames)
	}
	for _, f := range frames[:len(frames)-1] {
		if f.flags != 0 {
			t.Fatalf("message envelope with flags %#x", f.flags)
		}
	}
	// The trailer block is HTTP/1 header lines, lower-case names.
	block := frames[len(frames)-1].data
	for line := range strings.SplitSeq(strings.TrimSuffix(string(block), "\r\n"), "\r\n") {
		if k, _, _ := strings.Cut(line, ":"); k != strings.ToLower(k) {
			t.Errorf("trailer name %q is not lower-case", k)
		}
	}
	tr, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(block), strings.NewReader("\r\n")))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("trailer block %q: %v", block, err)
	}
	return resp, frames[:len(frames)-1], http.Header(tr)
}

func TestGRPCWebProtocol(t *testing.T) {
	h := grpcHandler()
	http1 := serveHTTP(t, h)
	h2c := serveH2C(t, grpcHandler())
	for _, tc := range []struct {
		name, base, contentType string
		client                  *http.Client
	}{
		{"HTTP/1.1 binary", http1, "application/grpc-web+proto", http.DefaultClient},
		{"HTTP/1.1 binary no codec", http1, "application/grpc-web", http.DefaultClient},
		{"HTTP/1.1 text", http1, "application/grpc-web-text", http.DefaultClient},
		{"h2c binary", h2c, "application/grpc-web+proto", h2cClient()},
		{"h2c text", h2c, "application/grpc-web-text+proto", h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, frames, tr := callGRPCWeb(t, tc.client, tc.base+"/helloworld.Greeter/SayHello",
				tc.contentType, http.Header{"X-Request-Id": {"w1"}}, &helloworld.HelloRequest{Name: "metadata"})
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("response content type %q, want %q", got, tc.contentType)
			}
			if resp.Header.Get("X-Echo") != "w1" || tr.Get("Grpc-Status") != "0" || tr.Get("X-Trailer") != "done" {
				t.Errorf("header %v, trailer %v", resp.Header, tr)
			}
			var reply helloworld.HelloReply
			if len(frames) != 1 || proto.Unmarshal(frames[0].data, &reply) != nil || reply.GetMessage() != "w1" {
				t.Errorf("frames %v", frames)
			}

			// Server streaming: three messages, then the trailer.
			_, frames, tr = callGRPCWeb(t, tc.client, tc.base+"/example.streaming.v1.CounterService/Count",
				tc.contentType, nil, &streamingv1.CountRequest{To: 3})
			if len(frames) != 3 || tr.Get("Grpc-Status") != "0" || tr.Get("X-Counted") != "3" {
				t.Errorf("Count: %d frames, trailer %v", len(frames), tr)
			}

			// An error before any message: header, then the trailer alone.
			resp, frames, tr = callGRPCWeb(t, tc.client, tc.base+"/helloworld.Greeter/SayHello",
				tc.contentType, nil, &helloworld.HelloRequest{Name: "unicode"})
			if resp.StatusCode != http.StatusOK || len(frames) != 0 || tr.Get("Grpc-Status") != "9" {
				t.Errorf("error: HTTP %d, %d frames, trailer %v", resp.StatusCode, len(frames), tr)
			}
			if got := tr.Get("Grpc-Message"); got != "na%C3%AFve 100%25 \"wrong\"%0Asecond line" {
				t.Errorf("grpc-message %q is not percent-encoded as gRPC requires", got)
			}
			_, _, tr = callGRPCWeb(t, tc.client, tc.base+"/helloworld.Greeter/SayHello",
				tc.contentType, nil, &helloworld.HelloRequest{Name: "error"})
			if tr.Get("Grpc-Status") != "5" || tr.Get("Grpc-Status-Details-Bin") == "" {
				t.Errorf("error with details: trailer %v", tr)
			}

			// Client streaming is not gRPC-Web's.
			_, _, tr = callGRPCWeb(t, tc.client, tc.base+"/example.streaming.v1.CounterService/Sum",
				tc.contentType, nil, &streamingv1.SumRequest{Number: 1})
			if tr.Get("Grpc-Status") != "12" {
				t.Errorf("Sum over gRPC-Web: trailer %v, want Unimplemented", tr)
			}
			_, _, tr = callGRPCWeb(t, tc.client, tc.base+"/no.Such/Method", tc.contentType, nil, &helloworld.HelloRequest{})
			if tr.Get("Grpc-Status") != "12" {
				t.Errorf("unknown method: trailer %v, want Unimplemented", tr)
			}
		})
	}
}

// TestGRPCWebClient calls the handler with a Conn speaking gRPC-Web, over
// HTTP/1.1.
func TestGRPCWebClient(t *testing.T) {
	base := serveHTTP(t, grpcHandler())
	for _, codec := range []string{"proto", "json"} {
		t.Run(codec, func(t *testing.T) {
			opts := []httptransport.ClientOption{httptransport.WithGRPCWeb()}
			if codec == "proto" {
				opts = append(opts, httptransport.WithCodec(runtime.ProtoCodec{}))
			}
			greeter := helloworldsvc.NewGreeterClient(dial(t, base, opts...))
			ctx := testContext(t)
			reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "web"})
			if err != nil || reply.GetMessage() != "Hello, web" {
				t.Fatalf("SayHello = %v, %v", reply, err)
			}
			_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "error"})
			wantErrorInfo(t, err, codes.NotFound, conformance.ErrorReason)
			_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "unicode"})
			if st := wantCode(t, err, codes.FailedPrecondition); st.Message() != unicodeMessage {
				t.Errorf("message %q", st.Message())
			}

			var header, trailer metadata.MD
			mdCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "r2", "x-token-bin", "\x00\x01")
			reply, err = greeter.SayHello(mdCtx, &helloworld.HelloRequest{Name: "metadata"}, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil || reply.GetMessage() != "r2" {
				t.Fatalf("SayHello(metadata) = %v, %v", reply, err)
			}
			if header.Get("x-echo-bin")[0] != "\x00\x01" || trailer.Get("x-trailer")[0] != "done" {
				t.Errorf("header %v, trailer %v", header, trailer)
			}
			if _, ok := trailer["grpc-status"]; ok {
				t.Errorf("grpc-status leaked into the trailer metadata: %v", trailer)
			}

			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if reply, err := greeter.SayHello(dctx, &helloworld.HelloRequest{Name: "deadline"}); err != nil || reply.GetMessage() != "deadline:true" {
				t.Errorf("SayHello(deadline) = %v, %v", reply, err)
			}
			short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel2()
			_, err = greeter.SayHello(short, &helloworld.HelloRequest{Name: "block"})
			wantCode(t, err, codes.DeadlineExceeded)
		})
	}
}

// TestGRPCWebClientCompressesRequests checks that WithCompression("gzip")
// applies to gRPC-Web as to Connect: Grpc-Encoding: gzip and the request
// envelope flagged compressed, which the handler still answers.
func TestGRPCWebClientCompressesRequests(t *testing.T) {
	var encoding string
	var flags byte
	inner := grpcHandler()
	base := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		encoding = r.Header.Get("Grpc-Encoding")
		if len(body) > 0 {
			flags = body[0]
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r)
	}))
	conn := dial(t, base, httptransport.WithGRPCWeb(), httptransport.WithCodec(runtime.ProtoCodec{}),
		httptransport.WithCompression("gzip"), httptransport.WithCompressMinBytes(0))
	reply, err := helloworldsvc.NewGreeterClient(conn).SayHello(testContext(t), &helloworld.HelloRequest{Name: "web"})
	if err != nil || reply.GetMessage() != "Hello, web" {
		t.Fatalf("SayHello = %v, %v", reply, err)
	}
	if encoding != "gzip" || flags&1 == 0 {
		t.Errorf("request Grpc-Encoding %q, envelope flags %#x; want gzip and the compressed bit", encoding, flags)
	}
}
