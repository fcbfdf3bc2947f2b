package httptransport

import (
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"sync"
	"sync/atomic"
)

// maxPooledBuffer is the largest buffer returned to the pool: one huge
// message should not pin its memory for the life of the process.
const maxPooledBuffer = 1 << 20

// bufferPool holds the buffers that messages are encoded into and read
// into, on both sides. It pays: BenchmarkHTTPBuffers in bench/ (our client
// against our handler, binary protobuf, 2 cores) measured, with the pool
// and the ref-counted request bodies below / with neither:
//
//	16 B     8.9 KB, 109 allocs / 10.0 KB, 112 allocs per call
//	1 KiB   12.0 KB, 113 allocs / 16.1 KB, 118 allocs
//	16 KiB  58.4 KB, 113 allocs / 153 KB,  128 allocs
//	1 MiB   12.7 MB, 166 allocs / 12.7 MB, 163 allocs (not pooled: > maxPooledBuffer)
//
// Time per call was within the noise of a shared machine either way.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

// isTrailerError reports whether err is net/http failing to parse the
// trailer section after a chunked body, which it reports from the body's
// last Read. The body itself arrived whole. grpc-gateway causes this: it
// copies binary gRPC trailers (grpc-status-details-bin) into HTTP trailers
// unencoded.
func isTrailerError(err error) bool {
	var pe textproto.ProtocolError
	return errors.As(err, &pe)
}

// readLimited reads all of r into buf, failing with errTooLarge once more
// than limit bytes arrive (limit <= 0: no limit).
func readLimited(buf *bytes.Buffer, r io.Reader, limit int64) error {
	if limit <= 0 {
		_, err := buf.ReadFrom(r)
		if isTrailerError(err) {
			return nil
		}
		return err
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil && !isTrailerError(err) {
		return err
	}
	if n > limit {
		return errTooLarge
	}
	return nil
}

// requestBody is a request body backed by a pooled buffer. net/http may
// still read a body after RoundTrip returns (RoundTrip may close it in
// another goroutine), and may ask for it again through GetBody to replay a
// request on a fresh connection, so the buffer goes back to the pool only
// when the caller and every reader handed out are done with it.
//
// Pooling request bodies pays on its own too: without it (the request
// encoded into a fresh buffer, read through a bytes.Reader) and with the
// pool kept for every other buffer, BenchmarkHTTPBuffers allocated 12.9 KB
// per call at 1 KiB (12.0 KB with it) and 88.7 KB at 16 KiB (58.4 KB).
type requestBody struct {
	buf  *bytes.Buffer
	refs atomic.Int32
}

// newRequestBody takes ownership of buf. The caller holds one reference and
// must call release once the HTTP exchange is over.
func newRequestBody(buf *bytes.Buffer) *requestBody {
	b := &requestBody{buf: buf}
	b.refs.Store(1)
	return b
}

// reader returns a new reader over the body; closing it drops its reference.
func (b *requestBody) reader() io.ReadCloser {
	b.refs.Add(1)
	r := &bodyReader{body: b}
	r.r.Reset(b.buf.Bytes())
	return r
}

func (b *requestBody) getBody() (io.ReadCloser, error) { return b.reader(), nil }

func (b *requestBody) release() {
	if b.refs.Add(-1) == 0 {
		putBuffer(b.buf)
		b.buf = nil
	}
}

// bodyReader reads a requestBody. net/http may close a body from one
// goroutine while another reads it (HTTP/2 closes it to abort a request
// whose stream ended), so Read and Close take turns: once Close returned,
// no Read touches the buffer, which may already serve another request.
type bodyReader struct {
	body   *requestBody
	mu     sync.Mutex
	r      bytes.Reader
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errBodyClosed
	}
	return r.r.Read(p)
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.r.Reset(nil)
		r.body.release()
	}
	return nil
}

var errBodyClosed = errors.New("httptransport: read of a closed request body")
