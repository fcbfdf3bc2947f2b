package httptransport

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// Compression on the Connect protocol (https://connectrpc.com/docs/protocol):
// a unary body is compressed whole and named by Content-Encoding, the
// encodings a peer reads by Accept-Encoding; in a stream each message is
// compressed on its own (the envelope's flag 1 says which), the stream's
// encoding named by Connect-Content-Encoding and the accepted ones by
// Connect-Accept-Encoding. gzip is the one encoding spoken here, as in
// connect-go's defaults.

const (
	headerAcceptEncoding        = "Accept-Encoding"
	headerConnectAcceptEncoding = "Connect-Accept-Encoding"

	encodingGzip     = "gzip"
	encodingIdentity = "identity"

	// defaultCompressMinBytes is the size below which a message is sent as
	// it is: gzip's header and trailer alone cost 18 bytes, and compressing
	// small messages costs more time than the bytes saved.
	defaultCompressMinBytes = 1 << 10
)

var gzipValue = []string{encodingGzip}

// acceptsGzip reports whether an Accept-Encoding or Connect-Accept-Encoding
// header names gzip.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(name), encodingGzip) {
				return true
			}
		}
	}
	return false
}

// compressorFor is how a call's request messages are compressed: as
// grpc.UseCompressor says for the call, else as [WithCompression] said for
// the connection. An encoding this transport does not speak fails the call
// before it is sent, as grpc-go fails a compressor it has not installed.
func (c *Conn) compressorFor(opts []grpc.CallOption) (string, error) {
	name := c.compressor
	for _, o := range opts {
		if o, ok := o.(grpc.CompressorCallOption); ok {
			name = o.CompressorType
		}
	}
	switch name {
	case "", encodingIdentity:
		return "", nil
	case encodingGzip:
		return name, nil
	}
	return "", transport.NotSent(status.Errorf(codes.Internal, "compressor %q is not spoken here: gzip and identity are", name))
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// gzipCompressor compresses messages into a buffer of its own.
type gzipCompressor struct {
	out bytes.Buffer
}

// appendCompressed appends data, gzip-compressed, to b.
func appendCompressed(b, data []byte) []byte {
	out := bytes.NewBuffer(b)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(out)
	_, _ = zw.Write(data) // a bytes.Buffer does not fail
	_ = zw.Close()
	zw.Reset(io.Discard)
	gzipWriters.Put(zw)
	return out.Bytes()
}

// compress returns data compressed; the result is valid until the next
// call.
func (z *gzipCompressor) compress(data []byte) []byte {
	z.out.Reset()
	b := appendCompressed(z.out.AvailableBuffer(), data)
	z.out.Write(b)
	return z.out.Bytes()
}

// gzipDecompressor decompresses messages within a read limit, so that a
// small compressed message cannot expand into unbounded memory (a gzip
// bomb): decompression stops, with ResourceExhausted, one byte past the
// limit.
type gzipDecompressor struct {
	zr  *gzip.Reader
	out bytes.Buffer
}

// decompress returns data decompressed; the result is valid until the
// next call.
func (z *gzipDecompressor) decompress(data []byte, limit int64) ([]byte, error) {
	z.out.Reset()
	if err := gunzipInto(&z.out, &z.zr, bytes.NewReader(data), limit); err != nil {
		return nil, err
	}
	return z.out.Bytes(), nil
}

// gzipReaders keeps gzip readers between unary calls. A reader carries
// ~40 KB of inflate state; connect-go's handler compresses every response
// of a client that accepts gzip, however small, and without the pool our
// client spent more on a new reader per call than on the call itself
// (BenchmarkHTTPDefaultRoute, 100 B proto: 51.7 KB and 476k instructions
// per call without the pool; with it, see the figures in BENCHMARKS.md).
var gzipReaders sync.Pool // *gzip.Reader

// gunzipInto decompresses r into out within limit, reusing *zr, or a
// reader from gzipReaders when *zr is nil (the caller returns it with
// releaseGzipReader).
func gunzipInto(out *bytes.Buffer, zr **gzip.Reader, r io.Reader, limit int64) error {
	var err error
	switch {
	case *zr != nil:
		err = (*zr).Reset(r)
	default:
		if pooled, ok := gzipReaders.Get().(*gzip.Reader); ok {
			*zr = pooled
			err = pooled.Reset(r)
		} else {
			*zr, err = gzip.NewReader(r)
		}
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "decompressing message: %v", err)
	}
	if err := readLimited(out, *zr, limit); err != nil {
		if err == errTooLarge {
			return status.Errorf(codes.ResourceExhausted, "decompressed message is larger than the limit of %d bytes", limit)
		}
		return status.Errorf(codes.InvalidArgument, "decompressing message: %v", err)
	}
	return nil
}

// gunzip returns data decompressed, within limit, with a pooled reader.
func gunzip(data []byte, limit int64) ([]byte, error) {
	var zr *gzip.Reader
	var out bytes.Buffer
	err := gunzipInto(&out, &zr, bytes.NewReader(data), limit)
	releaseGzipReader(zr)
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// releaseGzipReader returns a reader gunzipInto took to the pool.
func releaseGzipReader(zr *gzip.Reader) {
	if zr != nil {
		gzipReaders.Put(zr)
	}
}

// compressMinBytes is the smallest message h compresses.
func (h *Handler) compressMinBytes() int {
	switch {
	case h.compressMin == 0:
		return defaultCompressMinBytes
	case h.compressMin < 0:
		return 0
	}
	return h.compressMin
}
