package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime"
)

// BenchmarkHTTPBuffers is the benchmark that decides whether the HTTP
// transport's buffer pool and its ref-counted request bodies pay
// (runtime/httptransport/buffer.go): our client against our handler on the
// Connect route, binary protobuf, from tiny to large messages. Run it on
// the code as it is and on the code without the pool, and compare.
func BenchmarkHTTPBuffers(b *testing.B) {
	base := startHTTP(b, svcHandler())
	echo := svcEcho(benchv1svc.NewBenchServiceClient(svcHTTPConn(b, base, runtime.ProtoCodec{})))
	for _, size := range []struct {
		name  string
		bytes int
	}{{"16B", 16}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}} {
		req := Message(size.bytes)
		warmUp(b, func(ctx context.Context) error { _, err := echo(ctx, req); return err })
		b.Run(fmt.Sprintf("size=%s", size.name), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := echo(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
