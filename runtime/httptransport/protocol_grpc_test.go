package httptransport

import (
	"bytes"
	"encoding/base64"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FuzzGRPCMessage: any status message survives gRPC's percent-encoding,
// and the encoded form is printable ASCII without a bare '%'.
func FuzzGRPCMessage(f *testing.F) {
	for _, s := range []string{"", "plain", "100%", "naïve\n", "%zz", "\x00\xff", "%25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		enc := encodeGRPCMessage(msg)
		for i := 0; i < len(enc); i++ {
			if enc[i] < ' ' || enc[i] > '~' {
				t.Fatalf("encoded %q holds %#x", enc, enc[i])
			}
		}
		if got := decodeGRPCMessage(enc); got != msg {
			t.Fatalf("decode(encode(%q)) = %q", msg, got)
		}
		_ = decodeGRPCMessage(msg) // never panics on what a peer sends
	})
}

// FuzzGRPCWebText: gRPC-Web text bodies decode whether sent as one base64
// chunk, as padded chunks one after another, or unpadded.
func FuzzGRPCWebText(f *testing.F) {
	f.Add([]byte("a"), []byte("bc"))
	f.Add([]byte{}, []byte("xyz"))
	f.Add([]byte{0, 0, 0, 0, 1, 7}, []byte{0x80, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want := append(append([]byte{}, a...), b...)
		for _, text := range [][]byte{
			base64.StdEncoding.AppendEncode(nil, want),
			base64.StdEncoding.AppendEncode(base64.StdEncoding.AppendEncode(nil, a), b),
			base64.RawStdEncoding.AppendEncode(nil, want),
		} {
			got, err := decodeBase64Chunks(text)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("decode(%q) = %q, %v; want %q", text, got, err, want)
			}
		}
		_, _ = decodeBase64Chunks(a) // never panics on what a peer sends
	})
}

// TestGRPCWebTrailerRoundTrip: the trailer envelope the handler writes is
// what the client reads back, status details and binary metadata included.
func TestGRPCWebTrailerRoundTrip(t *testing.T) {
	st := status.New(codes.Aborted, "100% naïve")
	b := appendGRPCWebTrailer(nil, st, metadata.Pairs("x-a", "1", "x-b-bin", "\x00\x01"))
	if b[0] != flagGRPCWebTrailer {
		t.Fatalf("flags %#x", b[0])
	}
	h := parseGRPCWebTrailer(b[envelopePrefixLen:])
	got, ok := grpcStatusFromHeader(h)
	if !ok || got.Code() != codes.Aborted || got.Message() != "100% naïve" {
		t.Errorf("status %v, %v", got, ok)
	}
	md := responseMetadata(nil, h, "", "")
	if md.Get("x-a")[0] != "1" || md.Get("x-b-bin")[0] != "\x00\x01" {
		t.Errorf("metadata %v", md)
	}
}
