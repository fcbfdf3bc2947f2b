package httptransport_test

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/svcclient/svcclient/runtime"
	"github.com/svcclient/svcclient/runtime/httptransport"
)

// rawResponse is a response written by hand, as the Connect conformance
// suite's "raw response" cases write them.
type rawResponse struct {
	status      int
	contentType string
	body        []byte
}

func serveRaw(t *testing.T, raw rawResponse) *httptransport.Conn {
	t.Helper()
	url := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", raw.contentType)
		w.WriteHeader(raw.status)
		_, _ = w.Write(raw.body)
	}))
	return dial(t, url, httptransport.WithCodec(runtime.ProtoCodec{}))
}

// endStream frames a Connect end-of-stream message.
func endStream(json string) []byte {
	b := []byte{2, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(json)))
	return append(b, json...)
}

// TestClientConnectErrors covers the Connect protocol's rules for error
// bodies the client must read leniently: the cases of the Connect
// conformance suite (connect_client_error_endstream.yaml and
// connect_client_unexpected.yaml) that the client once failed.
func TestClientConnectErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stream   bool
		raw      rawResponse
		wantCode codes.Code
		wantMsg  string
	}{
		{"error/null-code", false, rawResponse{401, "application/json", []byte(`{"code": null, "message": "oops"}`)}, codes.Unauthenticated, "oops"},
		{"error/missing-code", false, rawResponse{401, "application/json", []byte(`{"message": "oops"}`)}, codes.Unauthenticated, "oops"},
		{"error/unrecognized-code", false, rawResponse{429, "application/json", []byte(`{"code": "foobar", "message": "oops"}`)}, codes.Unavailable, "oops"},
		{"error/known-code", false, rawResponse{401, "application/json", []byte(`{"code": "not_found", "message": "oops"}`)}, codes.NotFound, "oops"},
		{"error/no-body", false, rawResponse{401, "application/json", nil}, codes.Unauthenticated, "HTTP status 401 Unauthorized"},
		{"unexpected-content-type", false, rawResponse{200, "image/jpeg", []byte("\xff\xd8")}, codes.Unknown, ""},
		{"unexpected-codec", false, rawResponse{200, "application/json", []byte("{}")}, codes.Internal, ""},
		{"stream/unexpected-content-type", true, rawResponse{200, "text/html", []byte("<html>")}, codes.Unknown, ""},
		{"end-stream/null-code", true, rawResponse{200, "application/connect+proto", endStream(`{"error": {"code": null, "message": "oops"}}`)}, codes.Unknown, "oops"},
		{"end-stream/missing-code", true, rawResponse{200, "application/connect+proto", endStream(`{"error": {"message": "oops"}}`)}, codes.Unknown, "oops"},
		{"end-stream/unrecognized-code", true, rawResponse{200, "application/connect+proto", endStream(`{"error": {"code": "foobar", "message": "oops"}}`)}, codes.Unknown, "oops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := serveRaw(t, tc.raw)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			if tc.stream {
				var s grpc.ClientStream
				s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/test.v1.Raw/Stream")
				if err == nil {
					if err = s.SendMsg(&emptypb.Empty{}); err == nil {
						if err = s.CloseSend(); err == nil {
							err = s.RecvMsg(&emptypb.Empty{})
						}
					}
				}
			} else {
				err = conn.Invoke(ctx, "/test.v1.Raw/Unary", &emptypb.Empty{}, &emptypb.Empty{})
			}
			st := status.Convert(err)
			if st.Code() != tc.wantCode || tc.wantMsg != "" && st.Message() != tc.wantMsg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// serveRawWithHeader is serveRaw with extra response headers (pairs),
// dialled with opts besides the proto codec.
func serveRawWithHeader(t *testing.T, raw rawResponse, header []string, opts ...httptransport.ClientOption) *httptransport.Conn {
	t.Helper()
	url := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", raw.contentType)
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(raw.status)
		_, _ = w.Write(raw.body)
	}))
	return dial(t, url, append(opts, httptransport.WithCodec(runtime.ProtoCodec{}))...)
}

// TestClientOneResponseCount checks that a response with no message, or
// with two, for a call that takes exactly one (a Connect client stream, a
// gRPC-Web unary call) is Unimplemented, as connect-go reports it and the
// Connect conformance suite expects.
func TestClientOneResponseCount(t *testing.T) {
	webOK := string(envelope(0x80, "grpc-status: 0\r\n"))
	for _, tc := range []struct {
		name   string
		web    bool
		raw    rawResponse
		header []string
	}{
		{"connect/client-stream/no-response", false, rawResponse{200, "application/connect+proto", endStream(`{}`)}, nil},
		{"connect/client-stream/two-responses", false, rawResponse{200, "application/connect+proto", []byte(string(envelope(0, "")) + string(envelope(0, "")) + string(endStream(`{}`)))}, nil},
		{"grpc-web/unary/no-response", true, rawResponse{200, "application/grpc-web", []byte(webOK)}, nil},
		{"grpc-web/unary/two-responses", true, rawResponse{200, "application/grpc-web", []byte(string(envelope(0, "")) + string(envelope(0, "")) + webOK)}, nil},
		{"grpc-web/unary/trailers-only-no-response", true, rawResponse{200, "application/grpc-web", nil}, []string{"Grpc-Status", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			if tc.web {
				conn := serveRawWithHeader(t, tc.raw, tc.header, httptransport.WithGRPCWeb())
				err = conn.Invoke(ctx, "/test.v1.Raw/Unary", &emptypb.Empty{}, &emptypb.Empty{})
			} else {
				conn := serveRawWithHeader(t, tc.raw, tc.header)
				var s grpc.ClientStream
				s, err = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/test.v1.Raw/ClientStream")
				if err == nil {
					if err = s.SendMsg(&emptypb.Empty{}); err == nil {
						if err = s.CloseSend(); err == nil {
							err = s.RecvMsg(&emptypb.Empty{})
						}
					}
				}
			}
			if code := status.Code(err); code != codes.Unimplemented {
				t.Errorf("got %v (%v), want Unimplemented", code, err)
			}
		})
	}
}

// TestGRPCWebClientHeaderStatusWithBody checks that a grpc-status in the
// response header is ignored when a body follows: the body's trailer
// envelope holds the call's status, as connect-go reads it.
func TestGRPCWebClientHeaderStatusWithBody(t *testing.T) {
	raw := rawResponse{200, "application/grpc-web", envelope(0x80, "grpc-status: 9\r\n")}
	conn := serveRawWithHeader(t, raw, []string{"Grpc-Status", "8"}, httptransport.WithGRPCWeb())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := conn.Invoke(ctx, "/test.v1.Raw/Unary", &emptypb.Empty{}, &emptypb.Empty{})
	if code := status.Code(err); code != codes.FailedPrecondition {
		t.Errorf("got %v (%v), want FailedPrecondition from the trailer envelope", code, err)
	}
}

// TestClientRecvAfterCancel checks that once a server stream's context is
// cancelled, the next Recv returns Canceled, even when more messages and
// the server's end are already buffered: as on grpc-go, and as the Connect
// conformance suite's cancel-after-responses case expects (over gRPC-Web
// it flaked, reporting the server's end).
func TestClientRecvAfterCancel(t *testing.T) {
	// Two messages and the server's OK end, all at once.
	two := string(envelope(0, "")) + string(envelope(0, ""))
	t.Run("grpc-web", func(t *testing.T) {
		raw := rawResponse{200, "application/grpc-web", []byte(two + string(envelope(0x80, "grpc-status: 0\r\n")))}
		recvAfterCancel(t, serveRawWithHeader(t, raw, nil, httptransport.WithGRPCWeb()))
	})
	t.Run("connect", func(t *testing.T) {
		raw := rawResponse{200, "application/connect+proto", []byte(two + string(endStream(`{}`)))}
		recvAfterCancel(t, serveRawWithHeader(t, raw, nil))
	})
}

func recvAfterCancel(t *testing.T, conn *httptransport.Conn) {
	for i := range 50 {
		ctx, cancel := context.WithCancel(testContext(t))
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/test.v1.Raw/Stream")
		if err == nil {
			if err = s.SendMsg(&emptypb.Empty{}); err == nil {
				err = s.CloseSend()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecvMsg(&emptypb.Empty{}); err != nil {
			t.Fatalf("first RecvMsg: %v", err)
		}
		cancel()
		if err := s.RecvMsg(&emptypb.Empty{}); status.Code(err) != codes.Canceled {
			t.Fatalf("run %d: RecvMsg after cancel = %v, want Canceled", i, err)
		}
	}
}
