package amqptransport

import (
	"sync/atomic"
	"testing"
)

// BenchmarkPendingTable measures the pending table alone: goroutines
// register a call and take it back, as a call and its reply do, on every
// core at once. The table's cost per call is this figure; a call's round
// trip through the broker (BenchmarkAMQP in bench/) is ~350 µs.
func BenchmarkPendingTable(b *testing.B) {
	var t pendingTable
	t.init()
	var seq atomic.Uint64
	l := &lane{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pc := &pendingCall{lane: l, done: make(chan result, 1)}
		for pb.Next() {
			id := seq.Add(1)
			t.add(id, pc)
			t.take(id)
		}
	})
}
