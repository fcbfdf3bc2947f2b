package transport_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

func TestMetadataValues(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"x-id", "plain ascii"},
		{"x-token-bin", "\x00\xff binary"},
		{"x-empty-bin", ""},
	} {
		wire := transport.EncodeMetadataValue(tc.key, tc.value)
		got, err := transport.DecodeMetadataValue(tc.key, wire)
		if err != nil || got != tc.value {
			t.Errorf("%s: %q → %q → %q, %v", tc.key, tc.value, wire, got, err)
		}
	}
	// Padded base64, as some peers send it, is accepted too.
	if got, err := transport.DecodeMetadataValue("k-bin", "AAE="); err != nil || got != "\x00\x01" {
		t.Errorf("padded: %q, %v", got, err)
	}
	if _, err := transport.DecodeMetadataValue("k-bin", "!!!"); err == nil {
		t.Error("bad base64 accepted")
	}
}

func TestNotSent(t *testing.T) {
	base := errors.New("dial tcp 127.0.0.1:1: connection refused")
	err := transport.NotSent(base)
	if !errors.Is(err, transport.ErrNotSent) || !errors.Is(err, base) {
		t.Errorf("NotSent(%v) does not match ErrNotSent and its cause", base)
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable for an error with no status", status.Code(err))
	}
	err = transport.NotSent(status.Error(codes.ResourceExhausted, "too big"))
	if status.Code(err) != codes.ResourceExhausted || !errors.Is(err, transport.ErrNotSent) {
		t.Errorf("NotSent lost the status: %v", err)
	}
	if transport.NotSent(nil) != nil {
		t.Error("NotSent(nil) != nil")
	}
}

func TestToStatusError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{errors.New("boom"), codes.Unknown},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
	} {
		if got := status.Code(transport.ToStatusError(tc.err)); got != tc.want {
			t.Errorf("ToStatusError(%v) code = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestReadCallOptions checks that every option of a kind is honoured, as
// grpc-go honours them, not only the last one.
func TestReadCallOptions(t *testing.T) {
	var header, header2, trailer, trailer2 metadata.MD
	var p1, p2 peer.Peer
	var answered string
	var finished error = errors.New("not called")
	ci := transport.ReadCallOptions([]grpc.CallOption{
		grpc.Header(&header), grpc.Trailer(&trailer), transport.AnsweredByOption{Name: &answered},
		grpc.Header(&header2), grpc.Trailer(&trailer2), grpc.Peer(&p1), grpc.Peer(&p2),
		grpc.OnFinish(func(err error) { finished = err }), grpc.MaxCallRecvMsgSize(123),
		grpc.WaitForReady(true), // not for this layer: ignored
	})
	if ci.MaxRecvMsgSize != 123 {
		t.Errorf("MaxRecvMsgSize = %d", ci.MaxRecvMsgSize)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	ci.SetPeer(&peer.Peer{Addr: addr})
	ci.Finish("http", metadata.Pairs("h", "1"), metadata.Pairs("t", "2"), nil)
	if header.Get("h")[0] != "1" || trailer.Get("t")[0] != "2" || answered != "http" || finished != nil {
		t.Errorf("Finish: header %v trailer %v answered %q finished %v", header, trailer, answered, finished)
	}
	if len(header2.Get("h")) != 1 || len(trailer2.Get("t")) != 1 || p1.Addr != addr || p2.Addr != addr {
		t.Errorf("a second option of a kind was not honoured: header %v trailer %v peers %v %v", header2, trailer2, p1.Addr, p2.Addr)
	}
}

// TestServerCallTransport checks that what a transport records on its
// ServerCall reaches a handler's context, where server interceptors read it.
func TestServerCallTransport(t *testing.T) {
	if transport.ServerCallFromContext(context.Background()) != nil {
		t.Error("ServerCallFromContext found a call in an empty context")
	}
	call := transport.NewServerCall("/pkg.Svc/M", nil)
	call.SetTransport("amqp")
	info := transport.MessageInfo{Destination: "pkg.Svc", RoutingKey: "pkg.Svc", CorrelationID: "7"}
	call.SetMessageInfo(info)
	got := transport.ServerCallFromContext(call.Context(context.Background()))
	if got != call || got.Transport() != "amqp" || got.MessageInfo() != info {
		t.Errorf("ServerCallFromContext = %p (transport %q, message %+v), want %p", got, got.Transport(), got.MessageInfo(), call)
	}
}
