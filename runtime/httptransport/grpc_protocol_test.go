package httptransport_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/example/gen/users/v1/usersv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// The tests in this file call the handler's gRPC protocol with grpc-go's
// own client, over cleartext HTTP/2 (h2c) and over TLS.

// unicodeMessage is a status message gRPC must percent-encode.
const unicodeMessage = "naïve 100% \"wrong\"\nsecond line"

// wideGreeter is conformance.Greeter plus a status message that needs
// percent-encoding.
type wideGreeter struct{ conformance.Greeter }

func (g wideGreeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	switch in.GetName() {
	case "unicode":
		return nil, status.Error(codes.FailedPrecondition, unicodeMessage)
	case "watch":
		// Reports what ended the call, so a test sees that the handler's
		// context ended with the client's cancellation.
		<-ctx.Done()
		serverSawEnd <- ctx.Err()
		return nil, ctx.Err()
	case "reserved":
		// Metadata under gRPC's own keys must not change the status.
		_ = grpc.SetHeader(ctx, metadata.Pairs("grpc-status", "13", "x-kept", "yes"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("grpc-status", "13", "grpc-message", "forged"))
		return &helloworld.HelloReply{Message: "reserved"}, nil
	case "big":
		return &helloworld.HelloReply{Message: strings.Repeat("big ", 1000)}, nil
	}
	return g.Greeter.SayHello(ctx, in)
}

var serverSawEnd = make(chan error, 1)

// grpcHandler serves the example Greeter and CounterService.
func grpcHandler(opts ...httptransport.HandlerOption) *httptransport.Handler {
	h := httptransport.NewHandler(helloworldsvc.NewGreeterService(wideGreeter{}), opts...)
	h.Register(streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	return h
}

// serveH2CAddr serves h over HTTP/1.1 and cleartext HTTP/2 and returns its
// host:port, as grpc.NewClient takes it.
func serveH2CAddr(t *testing.T, h http.Handler) string {
	return strings.TrimPrefix(serveH2C(t, h), "http://")
}

func grpcDial(t *testing.T, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// h2cClient is an HTTP client that speaks cleartext HTTP/2 only, for
// requests grpc-go's client would not send.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func TestGRPCProtocolUnary(t *testing.T) {
	cc := grpcDial(t, serveH2CAddr(t, grpcHandler()))
	greeter := helloworld.NewGreeterClient(cc)
	ctx := testContext(t)

	reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "grpc"})
	if err != nil || reply.GetMessage() != "Hello, grpc" {
		t.Fatalf("SayHello = %v, %v", reply, err)
	}

	t.Run("status with details", func(t *testing.T) {
		_, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "error"})
		wantErrorInfo(t, err, codes.NotFound, conformance.ErrorReason)
		if st := status.Convert(err); st.Message() != "no such name" {
			t.Errorf("message = %q", st.Message())
		}
	})
	t.Run("percent-encoded message", func(t *testing.T) {
		_, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "unicode"})
		if st := wantCode(t, err, codes.FailedPrecondition); st.Message() != unicodeMessage {
			t.Errorf("message = %q, want %q", st.Message(), unicodeMessage)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		var header, trailer metadata.MD
		mdCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "r1", "x-token-bin", "\x00\xffbin")
		reply, err := greeter.SayHello(mdCtx, &helloworld.HelloRequest{Name: "metadata"}, grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil || reply.GetMessage() != "r1" {
			t.Fatalf("SayHello = %v, %v", reply, err)
		}
		if got := header.Get("x-echo"); len(got) != 1 || got[0] != "r1" {
			t.Errorf("header x-echo = %q", got)
		}
		if got := header.Get("x-echo-bin"); len(got) != 1 || got[0] != "\x00\xffbin" {
			t.Errorf("header x-echo-bin = %q", got)
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "done" {
			t.Errorf("trailer x-trailer = %q (trailer %v)", got, trailer)
		}
	})
	t.Run("reserved metadata", func(t *testing.T) {
		var header metadata.MD
		reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "reserved"}, grpc.Header(&header))
		if err != nil || reply.GetMessage() != "reserved" || len(header.Get("x-kept")) != 1 {
			t.Fatalf("SayHello(reserved) = %v, %v, header %v: metadata under grpc- keys changed the call", reply, err, header)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		reply, err := greeter.SayHello(dctx, &helloworld.HelloRequest{Name: "deadline"})
		if err != nil || reply.GetMessage() != "deadline:true" {
			t.Fatalf("SayHello(deadline) = %v, %v; the handler did not see the deadline", reply, err)
		}
		short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel2()
		_, err = greeter.SayHello(short, &helloworld.HelloRequest{Name: "block"})
		wantCode(t, err, codes.DeadlineExceeded)
	})
	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := greeter.SayHello(cctx, &helloworld.HelloRequest{Name: "watch"})
		wantCode(t, err, codes.Canceled)
		select {
		case err := <-serverSawEnd:
			if err != context.Canceled {
				t.Errorf("the handler's context ended with %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the handler's context did not end when the client canceled")
		}
	})
	t.Run("gzip", func(t *testing.T) {
		var header metadata.MD
		reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "big"}, grpc.UseCompressor(grpcgzip.Name), grpc.Header(&header))
		if err != nil || len(reply.GetMessage()) != 4000 {
			t.Fatalf("SayHello(big, gzip) = %d bytes, %v", len(reply.GetMessage()), err)
		}
		reply, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "small"}, grpc.UseCompressor(grpcgzip.Name))
		if err != nil || reply.GetMessage() != "Hello, small" {
			t.Fatalf("SayHello(small, gzip) = %v, %v", reply, err)
		}
	})
	t.Run("panic", func(t *testing.T) {
		_, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "panic"})
		if st := wantCode(t, err, codes.Internal); strings.Contains(st.Message(), conformance.PanicSecret) {
			t.Errorf("the panic value reached the client: %q", st.Message())
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		err := cc.Invoke(ctx, "/helloworld.Greeter/Nope", &helloworld.HelloRequest{}, &helloworld.HelloReply{})
		wantCode(t, err, codes.Unimplemented)
		err = cc.Invoke(ctx, "/no.Such/Service", &helloworld.HelloRequest{}, &helloworld.HelloReply{})
		wantCode(t, err, codes.Unimplemented)
	})
}

func TestGRPCProtocolStreaming(t *testing.T) {
	counter := streamingv1.NewCounterServiceClient(grpcDial(t, serveH2CAddr(t, grpcHandler())))
	ctx := testContext(t)

	t.Run("server", func(t *testing.T) {
		stream, err := counter.Count(ctx, &streamingv1.CountRequest{To: 3})
		if err != nil {
			t.Fatal(err)
		}
		header, err := stream.Header()
		if err != nil || header.Get("x-count")[0] != "3" {
			t.Fatalf("Header = %v, %v", header, err)
		}
		var got []int64
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.GetNumber())
		}
		if len(got) != 3 || got[2] != 3 {
			t.Errorf("numbers = %v", got)
		}
		if tr := stream.Trailer(); len(tr.Get("x-counted")) != 1 {
			t.Errorf("trailer = %v", tr)
		}
	})
	t.Run("server error after a message", func(t *testing.T) {
		stream, err := counter.Count(ctx, &streamingv1.CountRequest{To: -1})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := stream.Recv(); err != nil || m.GetNumber() != 0 {
			t.Fatalf("first Recv = %v, %v", m, err)
		}
		_, err = stream.Recv()
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("client", func(t *testing.T) {
		stream, err := counter.Sum(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(1); i <= 4; i++ {
			if err := stream.Send(&streamingv1.SumRequest{Number: i}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.GetTotal() != 10 || resp.GetCount() != 4 {
			t.Fatalf("Sum = %v, %v", resp, err)
		}
	})
	t.Run("bidi full duplex", func(t *testing.T) {
		stream, err := counter.Echo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Each answer is read before the next message is sent: this only
		// works if the handler writes while the request is still open.
		for i, text := range []string{"a", "b", "c"} {
			if err := stream.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
				t.Fatal(err)
			}
			m, err := stream.Recv()
			if err != nil || m.GetText() != text || m.GetSequence() != int64(i+1) {
				t.Fatalf("Recv = %v, %v", m, err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv after CloseSend = %v, want io.EOF", err)
		}
	})
	t.Run("bidi gzip", func(t *testing.T) {
		stream, err := counter.Echo(ctx, grpc.UseCompressor(grpcgzip.Name))
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", 4096)
		if err := stream.Send(&streamingv1.EchoRequest{Text: long}); err != nil {
			t.Fatal(err)
		}
		if m, err := stream.Recv(); err != nil || m.GetText() != long {
			t.Fatalf("Recv = %d bytes, %v", len(m.GetText()), err)
		}
		_ = stream.CloseSend()
	})
	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		stream, err := counter.Echo(cctx)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = stream.Recv()
		wantCode(t, err, codes.Canceled)
	})
}

// TestGRPCProtocolTLS calls over https with HTTP/2 negotiated by ALPN.
func TestGRPCProtocolTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(grpcHandler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "example.com"})
	cc := grpcDial(t, strings.TrimPrefix(srv.URL, "https://"), grpc.WithTransportCredentials(creds))
	reply, err := helloworld.NewGreeterClient(cc).SayHello(testContext(t), &helloworld.HelloRequest{Name: "tls"})
	if err != nil || reply.GetMessage() != "Hello, tls" {
		t.Fatalf("SayHello over TLS = %v, %v", reply, err)
	}
	stream, err := streamingv1.NewCounterServiceClient(cc).Echo(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&streamingv1.EchoRequest{Text: "tls"}); err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetText() != "tls" {
		t.Fatalf("Echo over TLS = %v, %v", m, err)
	}
}

// grpcEnvelope is one gRPC length-prefixed message.
func grpcEnvelope(flags byte, data []byte) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(data)))
	return append(b, data...)
}

// rawGRPC posts body to a gRPC route over h2c and returns the response,
// its body read whole so that the trailers are in.
func rawGRPC(t *testing.T, addr, path string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/grpc")
	}
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// grpcStatusOf reads the status of a raw gRPC response: from the trailers,
// or from the header of a trailers-only response.
func grpcStatusOf(resp *http.Response) (string, string) {
	if v := resp.Trailer.Get("Grpc-Status"); v != "" {
		return v, resp.Trailer.Get("Grpc-Message")
	}
	return resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
}

// TestGRPCProtocolMalformed sends what grpc-go's client never sends: the
// handler answers with a status and serves on.
func TestGRPCProtocolMalformed(t *testing.T) {
	addr := serveH2CAddr(t, grpcHandler(httptransport.WithReadMaxBytes(1024)))
	const sayHello = "/helloworld.Greeter/SayHello"
	hello, _ := proto.Marshal(&helloworld.HelloRequest{Name: "raw"})
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte{0}, 1<<20))
	_ = zw.Close()
	gzipHeader := http.Header{"Grpc-Encoding": {"gzip"}}

	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		code   codes.Code
	}{
		{"not protobuf", nil, grpcEnvelope(0, []byte{0xff, 0xff, 0xff}), codes.InvalidArgument},
		{"truncated envelope", nil, []byte{0, 0, 0}, codes.Internal},
		{"truncated message", nil, grpcEnvelope(0, hello)[:6], codes.Internal},
		{"no message", nil, nil, codes.Unimplemented}, // as connect-go and the conformance suite have it
		{"two messages", nil, append(grpcEnvelope(0, hello), grpcEnvelope(0, hello)...), codes.Unimplemented},
		{"over the limit", nil, grpcEnvelope(0, make([]byte, 2048)), codes.ResourceExhausted},
		{"compressed without encoding", nil, grpcEnvelope(flagCompressedForTest, hello), codes.Internal},
		{"gzip bomb", gzipHeader, grpcEnvelope(flagCompressedForTest, bomb.Bytes()), codes.ResourceExhausted},
		{"unknown encoding", http.Header{"Grpc-Encoding": {"br"}}, grpcEnvelope(0, hello), codes.Unimplemented},
		{"unknown codec", http.Header{"Content-Type": {"application/grpc+yaml"}}, grpcEnvelope(0, hello), codes.Internal},
		{"bad timeout", http.Header{"Grpc-Timeout": {"soon"}}, grpcEnvelope(0, hello), codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h[k] = v
			}
			resp, _ := rawGRPC(t, addr, sayHello, h, tc.body)
			code, msg := grpcStatusOf(resp)
			if resp.StatusCode != http.StatusOK || code != itoa(tc.code) {
				t.Errorf("HTTP %d, grpc-status %q (%q), want 200 and %d", resp.StatusCode, code, msg, tc.code)
			}
		})
	}
	// The handler still serves grpc-go's client.
	reply, err := helloworld.NewGreeterClient(grpcDial(t, addr)).SayHello(testContext(t), &helloworld.HelloRequest{Name: "after"})
	if err != nil || reply.GetMessage() != "Hello, after" {
		t.Fatalf("SayHello after malformed requests = %v, %v", reply, err)
	}
}

// TestGRPCProtocolOverHTTP1 refuses gRPC over HTTP/1.1, which cannot carry
// its trailers.
func TestGRPCProtocolOverHTTP1(t *testing.T) {
	addr := serveH2CAddr(t, grpcHandler())
	req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+addr+"/helloworld.Greeter/SayHello", bytes.NewReader(grpcEnvelope(0, nil)))
	req.Header.Set("Content-Type", "application/grpc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if code, _ := grpcStatusOf(resp); code != itoa(codes.Unimplemented) {
		t.Errorf("grpc-status %q over HTTP/1.1, want Unimplemented", code)
	}
}

const flagCompressedForTest = 1

func itoa(c codes.Code) string { return strconv.Itoa(int(c)) }

// TestGRPCProtocolNeverREST: a gRPC request on a REST route's path is not
// a REST call: it gets Unimplemented, as from any gRPC server.
func TestGRPCProtocolNeverREST(t *testing.T) {
	addr := serveH2CAddr(t, httptransport.NewHandler(usersv1svc.NewUserServiceService(conformance.EchoUsers{})))
	resp, _ := rawGRPC(t, addr, "/v1/users", http.Header{}, grpcEnvelope(0, nil))
	if code, msg := grpcStatusOf(resp); code != itoa(codes.Unimplemented) {
		t.Errorf("gRPC POST /v1/users: HTTP %d, grpc-status %q (%q), want Unimplemented", resp.StatusCode, code, msg)
	}
}

// TestGRPCProtocolResponseCompression: a client that compressed its
// request with gzip and accepts gzip gets responses of 1 KiB or more
// compressed, smaller ones not.
func TestGRPCProtocolResponseCompression(t *testing.T) {
	addr := serveH2CAddr(t, grpcHandler())
	for _, tc := range []struct {
		name       string
		compressed bool
	}{{"big", true}, {"small", false}} {
		hello, _ := proto.Marshal(&helloworld.HelloRequest{Name: tc.name})
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(hello)
		_ = zw.Close()
		h := http.Header{"Grpc-Encoding": {"gzip"}, "Grpc-Accept-Encoding": {"gzip"}}
		resp, body := rawGRPC(t, addr, "/helloworld.Greeter/SayHello", h, grpcEnvelope(1, z.Bytes()))
		if code, msg := grpcStatusOf(resp); code != "0" || len(body) < 5 {
			t.Fatalf("%s: grpc-status %q (%q), %d bytes", tc.name, code, msg, len(body))
		}
		if resp.Header.Get("Grpc-Encoding") != "gzip" {
			t.Errorf("%s: Grpc-Encoding %q, want gzip", tc.name, resp.Header.Get("Grpc-Encoding"))
		}
		if got := body[0] == 1; got != tc.compressed {
			t.Errorf("%s: compressed flag %v, want %v", tc.name, got, tc.compressed)
		}
		data := body[5:]
		if tc.compressed {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		var reply helloworld.HelloReply
		if err := proto.Unmarshal(data, &reply); err != nil || !strings.Contains(reply.GetMessage(), tc.name) {
			t.Errorf("%s: reply %q, %v", tc.name, reply.GetMessage(), err)
		}
	}
}

// headerThenFail is conformance.Counter whose bidi Echo sets header
// metadata and fails before sending a message, and whose Sum does the same
// with SetTrailer too.
type headerThenFail struct{ conformance.Counter }

func (headerThenFail) Echo(stream grpc.BidiStreamingServer[streamingv1.EchoRequest, streamingv1.EchoResponse]) error {
	_ = stream.SetHeader(metadata.Pairs("x-header", "set"))
	stream.SetTrailer(metadata.Pairs("x-trailer", "set"))
	return status.Error(codes.FailedPrecondition, "failed before sending")
}

// TestGRPCProtocolHeaderBeforeError checks that a method that sets header
// metadata and fails before sending a message answers with a header block
// and then the trailers, as grpc-go's server does, so that grpc-go's
// client's Header() returns the metadata; with no header metadata the
// answer stays trailers-only.
func TestGRPCProtocolHeaderBeforeError(t *testing.T) {
	h := httptransport.NewHandler(streamingv1svc.NewCounterServiceService(headerThenFail{}))
	counter := streamingv1.NewCounterServiceClient(grpcDial(t, serveH2CAddr(t, h)))
	stream, err := counter.Echo(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.CloseSend()
	header, err := stream.Header()
	if err != nil || len(header.Get("x-header")) != 1 || len(header.Get("x-trailer")) != 0 {
		t.Errorf("Header = %v, %v; want x-header alone", header, err)
	}
	_, err = stream.Recv()
	wantCode(t, err, codes.FailedPrecondition)
	if tr := stream.Trailer(); len(tr.Get("x-trailer")) != 1 || len(tr.Get("x-header")) != 0 {
		t.Errorf("Trailer = %v; want x-trailer alone", tr)
	}

	// Without header metadata: trailers-only, the status in the header.
	req, _ := proto.Marshal(&helloworld.HelloRequest{Name: "unicode"})
	resp, _ := rawGRPC(t, serveH2CAddr(t, grpcHandler()), "/helloworld.Greeter/SayHello", http.Header{}, grpcEnvelope(0, req))
	if got := resp.Header.Get("Grpc-Status"); got != itoa(codes.FailedPrecondition) {
		t.Errorf("a failing call without header metadata: header grpc-status %q, want a trailers-only %d", got, codes.FailedPrecondition)
	}
}
