package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// InFlight are the concurrency levels the load benchmarks report.
var InFlight = []int{1, 16, 64}

// Load makes b.N calls from inFlight goroutines at once and reports
// throughput and the p50 and p99 latency of one call, besides ns/op (which,
// with more than one call in flight, is wall time divided by calls).
func Load(b *testing.B, inFlight int, call func(ctx context.Context) error) {
	b.Helper()
	ctx := context.Background()
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				if err := call(ctx); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				latencies[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// warmUp makes a few hundred calls before a measurement, so that
// connections, pools and caches are in the state they keep under load.
func warmUp(b *testing.B, call func(ctx context.Context) error) {
	b.Helper()
	for i := 0; i < 300; i++ {
		if err := call(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
