// Package compat holds what the client and the server under test share:
// the runner's size-delimited framing of messages on stdin and stdout, and
// the conversions between the suite's Header and Error messages and grpc-go's
// metadata and status, which is the API svcclient's runtime speaks.
package compat

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svcclient/svcclient/conformance/gen/conformancev1"
)

// maxMessage bounds a message read from the runner; the largest the suite
// sends are a few megabytes of request data.
const maxMessage = 64 << 20

// ReadDelimited reads one message written by the runner: a big-endian
// 32-bit length, then that many bytes of binary protobuf. It returns io.EOF
// when the runner closed the stream between messages.
func ReadDelimited(r io.Reader, m proto.Message) error {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxMessage {
		return fmt.Errorf("message of %d bytes is larger than %d", n, maxMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("reading a %d-byte message: %w", n, io.ErrUnexpectedEOF)
	}
	return proto.Unmarshal(b, m)
}

// WriteDelimited writes m in the runner's framing.
func WriteDelimited(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}

// HeadersToMetadata turns the suite's headers into metadata. Values are
// kept as they are, "-bin" keys included: svcclient's HTTP transport
// carries metadata values as header text, without gRPC's base64 step.
func HeadersToMetadata(hs []*conformancev1.Header) metadata.MD {
	md := make(metadata.MD, len(hs))
	for _, h := range hs {
		k := strings.ToLower(h.GetName())
		md[k] = append(md[k], h.GetValue()...)
	}
	return md
}

// MetadataToHeaders is the inverse of HeadersToMetadata.
func MetadataToHeaders(md metadata.MD) []*conformancev1.Header {
	hs := make([]*conformancev1.Header, 0, len(md))
	for k, v := range md {
		hs = append(hs, &conformancev1.Header{Name: k, Value: v})
	}
	return hs
}

// StatusError turns the suite's Error into the status error a handler
// returns.
func StatusError(e *conformancev1.Error) error {
	if e == nil {
		return nil
	}
	return status.ErrorProto(&spb.Status{Code: int32(e.GetCode()), Message: e.GetMessage(), Details: e.GetDetails()})
}

// ProtoError turns the error of a call into the suite's Error.
func ProtoError(err error) *conformancev1.Error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	if st.Code() == codes.OK {
		st = status.New(codes.Unknown, err.Error())
	}
	return &conformancev1.Error{
		Code:    conformancev1.Code(st.Code()),
		Message: proto.String(st.Message()),
		Details: st.Proto().GetDetails(),
	}
}
