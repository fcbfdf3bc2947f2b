package httptransport_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/example/gen/helloworld"
	"github.com/svcclient/svcclient/example/gen/helloworld/helloworldsvc"
	streamingv1 "github.com/svcclient/svcclient/example/gen/streaming/v1"
	"github.com/svcclient/svcclient/example/gen/streaming/v1/streamingv1svc"
	"github.com/svcclient/svcclient/internal/conformance"
	svcruntime "github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// slowCounter sends its first message after firstDelay.
type slowCounter struct {
	conformance.Counter
	firstDelay time.Duration
}

func (c slowCounter) Count(in *streamingv1.CountRequest, stream grpc.ServerStreamingServer[streamingv1.CountResponse]) error {
	select {
	case <-time.After(c.firstDelay):
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
	return stream.Send(&streamingv1.CountResponse{Number: 1})
}

// TestStreamOpensAtOnce checks that opening a stream does not wait for the
// server's first message, as on grpc-go: the generated client's call
// returns at once, and the message arrives through Recv a second later.
func TestStreamOpensAtOnce(t *testing.T) {
	const delay = time.Second
	svc := streamingv1svc.NewCounterServiceService(slowCounter{firstDelay: delay})
	for _, tc := range []struct {
		name string
		base string
		opts []httptransport.ClientOption
	}{
		{"http1", serve(t, nil, svc), nil},
		{"h2c", serveH2C(t, httptransport.NewHandler(svc)), []httptransport.ClientOption{httptransport.WithH2C()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := streamingv1svc.NewCounterServiceClient(dial(t, tc.base, tc.opts...))
			ctx := testContext(t)
			// A first call opens the connection, so that the measure below is
			// of the stream alone.
			warm, err := client.Count(ctx, &streamingv1.CountRequest{To: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := warm.Recv(); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			stream, err := client.Count(ctx, &streamingv1.CountRequest{To: 1})
			opened := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: stream opened in %v; first message due after %v", tc.name, opened, delay)
			if opened > 100*time.Millisecond {
				t.Errorf("opening the stream took %v: it waited for the server's first message", opened)
			}
			resp, err := stream.Recv()
			if err != nil || resp.GetNumber() != 1 {
				t.Fatalf("Recv = %v, %v", resp, err)
			}
			if got := time.Since(start); got < delay {
				t.Errorf("the first message arrived after %v, before the server sent it", got)
			}
		})
	}
}

// TestStreamErrorOnRecv checks that a stream the server refuses opens, and
// reports the refusal on its first Header and Recv, as on grpc-go. Over
// HTTP/2 the refusal arrives while the request is still open; over
// HTTP/1.1 a server reads a request to its end before answering (Go's
// does, to keep the connection), so it arrives after CloseSend.
func TestStreamErrorOnRecv(t *testing.T) {
	svc := streamingv1svc.NewCounterServiceService(conformance.Counter{})
	for _, tc := range []struct {
		name      string
		base      string
		opts      []httptransport.ClientOption
		closeSend bool
	}{
		{"h2c", serveH2C(t, httptransport.NewHandler(svc)), []httptransport.ClientOption{httptransport.WithH2C()}, false},
		{"http1", serve(t, nil, svc), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dial(t, tc.base, tc.opts...)
			cs, err := conn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true}, "/example.streaming.v1.CounterService/Missing")
			if err != nil {
				t.Fatalf("NewStream = %v, want the error on Recv", err)
			}
			if tc.closeSend {
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
			}
			_, err = cs.Header()
			wantCode(t, err, codes.Unimplemented)
			wantCode(t, cs.RecvMsg(new(streamingv1.SumResponse)), codes.Unimplemented)
		})
	}
}

// TestBidiNeedsHTTP2 checks that a bidi stream over cleartext HTTP/1.1
// fails before anything is sent, so that a fallback connection moves on to
// the next transport, which answers it.
func TestBidiNeedsHTTP2(t *testing.T) {
	var requests int
	var mu sync.Mutex
	h := httptransport.NewHandler(streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	base := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	httpConn := dial(t, base)
	_, err := streamingv1svc.NewCounterServiceClient(httpConn).Echo(testContext(t))
	wantCode(t, err, codes.Unimplemented)
	if !errors.Is(err, svcruntime.ErrNotSent) {
		t.Errorf("error %v does not match ErrNotSent", err)
	}

	inProcess := svcruntime.NewInProcessConn(streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	var answeredBy string
	finished := make(chan struct{})
	client := streamingv1svc.NewCounterServiceClient(svcruntime.NewFallbackConn(httpConn, inProcess))
	stream, err := client.Echo(testContext(t), svcruntime.AnsweredBy(&answeredBy), grpc.OnFinish(func(error) { close(finished) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&streamingv1.EchoRequest{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetText() != "hi" {
		t.Fatalf("Recv = %v, %v", resp, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("last Recv = %v, want io.EOF", err)
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not finish")
	}
	if answeredBy != "inprocess" {
		t.Errorf("answered by %q, want inprocess", answeredBy)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 0 {
		t.Errorf("the HTTP/1.1 server saw %d requests, want none", requests)
	}
}

// TestBidiOverHTTP1FullDuplex checks that the handler answers a bidi
// stream over HTTP/1.1 message by message (full duplex), for clients that
// stream both ways on HTTP/1.1, as Go's does: here ours, told by WithH2C
// to go ahead although its HTTP client speaks HTTP/1.1 only.
func TestBidiOverHTTP1FullDuplex(t *testing.T) {
	base := serve(t, nil, streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	http1 := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	conn := dial(t, base, httptransport.WithHTTPClient(http1), httptransport.WithH2C())
	stream, err := streamingv1svc.NewCounterServiceClient(conn).Echo(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"one", "two"} {
		if err := stream.Send(&streamingv1.EchoRequest{Text: text}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil || resp.GetText() != text || resp.GetSequence() != int64(i+1) {
			t.Fatalf("Recv = %v, %v", resp, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("last Recv = %v, want io.EOF", err)
	}
}

// TestCompressionNegotiated checks gzip both ways on the Connect protocol:
// the client compresses what it sends when asked to (and not below the
// minimum size), the handler compresses what the client accepts, on unary
// calls and on streams.
func TestCompressionNegotiated(t *testing.T) {
	h := httptransport.NewHandler(helloworldsvc.NewGreeterService(conformance.Greeter{}))
	hs := httptransport.NewHandler(streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	type seen struct{ reqEncoding, respEncoding string }
	var mu sync.Mutex
	var log []seen
	base := serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &headerRecorder{ResponseWriter: w}
		httptransport.NewServeMux(h, hs).ServeHTTP(rec, r)
		mu.Lock()
		log = append(log, seen{r.Header.Get("Content-Encoding") + r.Header.Get("Connect-Content-Encoding"),
			w.Header().Get("Content-Encoding") + w.Header().Get("Connect-Content-Encoding")})
		mu.Unlock()
	}))
	last := func() seen {
		mu.Lock()
		defer mu.Unlock()
		return log[len(log)-1]
	}
	conn := dial(t, base, httptransport.WithH2C(), httptransport.WithCompression("gzip"))
	greeter := helloworldsvc.NewGreeterClient(conn)
	ctx := testContext(t)

	big := strings.Repeat("a", 4<<10)
	reply, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: big})
	if err != nil || reply.GetMessage() != "Hello, "+big {
		t.Fatalf("SayHello = %.40v, %v", reply, err)
	}
	if got := last(); got != (seen{"gzip", "gzip"}) {
		t.Errorf("large unary call: encodings %+v, want gzip both ways", got)
	}
	if _, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != (seen{}) {
		t.Errorf("small unary call: encodings %+v, want none below the minimum size", got)
	}

	counter := streamingv1svc.NewCounterServiceClient(conn)
	stream, err := counter.Sum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 3; i++ {
		if err := stream.Send(&streamingv1.SumRequest{Number: i}); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := stream.CloseAndRecv(); err != nil || sum.GetTotal() != 6 {
		t.Fatalf("Sum = %v, %v", sum, err)
	}
	if got := last(); got != (seen{"gzip", "gzip"}) {
		t.Errorf("stream: encodings %+v, want gzip negotiated both ways", got)
	}

	// grpc.UseCompressor("identity") turns it off for one call.
	if _, err := greeter.SayHello(ctx, &helloworld.HelloRequest{Name: big}, grpc.UseCompressor("identity")); err != nil {
		t.Fatal(err)
	}
	if got := last(); got.reqEncoding != "" {
		t.Errorf("UseCompressor(identity): request encoding %q", got.reqEncoding)
	}
	// An encoding not spoken here fails before anything is sent.
	_, err = greeter.SayHello(ctx, &helloworld.HelloRequest{Name: big}, grpc.UseCompressor("snappy"))
	wantCode(t, err, codes.Internal)
	if !errors.Is(err, svcruntime.ErrNotSent) {
		t.Errorf("unknown compressor: %v does not match ErrNotSent", err)
	}
	_, err = counter.Sum(ctx, grpc.UseCompressor("snappy"))
	wantCode(t, err, codes.Internal)
}

type headerRecorder struct{ http.ResponseWriter }

func (r *headerRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// gzipBomb is a gzip stream of n zero bytes: a few KiB that expand to n.
func gzipBomb(t testing.TB, n int) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(zeros))
		if _, err := zw.Write(zeros[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGzipBomb checks that a small compressed message that expands beyond
// the read limit fails with ResourceExhausted, with memory bounded by the
// limit, not by the expanded size: on the handler (unary and streams) and
// on the client (unary and streams).
func TestGzipBomb(t *testing.T) {
	const limit = 64 << 10
	const expanded = 32 << 20
	bomb := gzipBomb(t, expanded)
	t.Logf("bomb: %d bytes expanding to %d", len(bomb), expanded)

	measure := func(t *testing.T, call func() error) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := call()
		runtime.ReadMemStats(&after)
		wantCode(t, err, codes.ResourceExhausted)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
			t.Errorf("the call allocated %d bytes for a limit of %d", grew, limit)
		}
	}

	t.Run("handler", func(t *testing.T) {
		base := serve(t, []httptransport.HandlerOption{httptransport.WithReadMaxBytes(limit)},
			helloworldsvc.NewGreeterService(conformance.Greeter{}),
			streamingv1svc.NewCounterServiceService(conformance.Counter{}))
		measure(t, func() error {
			req, _ := http.NewRequest("POST", base+"/helloworld.Greeter/SayHello", bytes.NewReader(bomb))
			req.Header.Set("Content-Type", "application/proto")
			req.Header.Set("Content-Encoding", "gzip")
			return connectUnaryError(t, req)
		})
		measure(t, func() error {
			body := binary.BigEndian.AppendUint32([]byte{1}, uint32(len(bomb)))
			req, _ := http.NewRequest("POST", base+"/example.streaming.v1.CounterService/Sum", bytes.NewReader(append(body, bomb...)))
			req.Header.Set("Content-Type", "application/connect+proto")
			req.Header.Set("Connect-Content-Encoding", "gzip")
			return connectStreamError(t, req)
		})
	})

	t.Run("client", func(t *testing.T) {
		base := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/connect+") {
				w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
				w.Header().Set("Connect-Content-Encoding", "gzip")
				_, _ = w.Write(binary.BigEndian.AppendUint32([]byte{1}, uint32(len(bomb))))
				_, _ = w.Write(bomb)
				return
			}
			w.Header().Set("Content-Type", "application/proto")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb)
		}))
		conn := dial(t, base, httptransport.WithCodec(svcruntime.ProtoCodec{}), httptransport.WithReadMaxBytes(limit))
		measure(t, func() error {
			_, err := helloworldsvc.NewGreeterClient(conn).SayHello(testContext(t), &helloworld.HelloRequest{Name: "x"})
			return err
		})
		measure(t, func() error {
			stream, err := streamingv1svc.NewCounterServiceClient(conn).Sum(testContext(t))
			if err != nil {
				return err
			}
			_, err = stream.CloseAndRecv()
			return err
		})
	})
}

// connectUnaryError sends req and reads the Connect error it is answered
// with.
func connectUnaryError(t *testing.T, req *http.Request) error {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e connectError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.err()
}

// connectStreamError sends req and reads the error of the end-of-stream
// message it is answered with.
func connectStreamError(t *testing.T, req *http.Request) error {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for len(body) >= 5 {
		n := binary.BigEndian.Uint32(body[1:5])
		flags, msg := body[0], body[5:5+n]
		body = body[5+n:]
		if flags&2 != 0 {
			var end struct {
				Error *connectError `json:"error"`
			}
			if err := json.Unmarshal(msg, &end); err != nil || end.Error == nil {
				t.Fatalf("end-of-stream %q: %v", msg, err)
			}
			return end.Error.err()
		}
	}
	t.Fatal("no end-of-stream message")
	return nil
}

// connectError is the Connect protocol's error JSON.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *connectError) err() error {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		name := connectCodeName(c)
		if name == e.Code {
			return status.Error(c, e.Message)
		}
	}
	return status.Error(codes.Unknown, e.Code+": "+e.Message)
}

// connectCodeName is c's name in the Connect protocol: snake case, with
// Canceled spelt "canceled" (InvalidArgument is "invalid_argument").
func connectCodeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestServerStreamWithoutRequest checks that a server-streaming call whose
// body holds no request message ends Unimplemented, as connect-go answers
// it and the Connect conformance suite expects.
func TestServerStreamWithoutRequest(t *testing.T) {
	base := serve(t, nil, streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	req, _ := http.NewRequest("POST", base+"/example.streaming.v1.CounterService/Count", http.NoBody)
	req.Header.Set("Content-Type", "application/connect+proto")
	wantCode(t, connectStreamError(t, req), codes.Unimplemented)
}

// TestCompressedMessageInIdentityStream checks that a request message
// flagged compressed in a stream whose Connect-Content-Encoding is identity
// (or absent) ends Internal, as the Connect protocol has it: on a server
// stream's one request and on a client stream's messages.
func TestCompressedMessageInIdentityStream(t *testing.T) {
	base := serve(t, nil, streamingv1svc.NewCounterServiceService(conformance.Counter{}))
	msg := []byte{0x08, 0x02} // field 1 = 2 in either request
	envelope := append(binary.BigEndian.AppendUint32([]byte{1}, uint32(len(msg))), msg...)
	for _, method := range []string{"Count", "Sum"} {
		for _, enc := range []string{"identity", ""} {
			t.Run(method+"/"+enc, func(t *testing.T) {
				req, _ := http.NewRequest("POST", base+"/example.streaming.v1.CounterService/"+method, bytes.NewReader(envelope))
				req.Header.Set("Content-Type", "application/connect+proto")
				if enc != "" {
					req.Header.Set("Connect-Content-Encoding", enc)
				}
				wantCode(t, connectStreamError(t, req), codes.Internal)
			})
		}
	}
}
