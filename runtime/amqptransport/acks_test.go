package amqptransport

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAckTrackerPlans(t *testing.T) {
	tr := newAckTracker()
	if m, s := tr.plan([]uint64{2, 3}); m != 0 || !slices.Equal(s, []uint64{2, 3}) {
		t.Fatalf("tag 1 unsettled: plan(2,3) = %d, %v; want 0, [2 3]", m, s)
	}
	tr.settle(2)
	tr.settle(3)
	if m, s := tr.plan([]uint64{1}); m != 1 || len(s) != 0 {
		t.Fatalf("plan(1) after 2 and 3 were acked = %d, %v; want 1, []", m, s)
	}
	tr.settle(4) // a cancel message, auto-acked
	if m, s := tr.plan([]uint64{6, 5, 8}); m != 6 || !slices.Equal(s, []uint64{8}) {
		t.Fatalf("plan(6,5,8) = %d, %v; want 6, [8]", m, s)
	}
	tr.settle(8)
	if m, s := tr.plan([]uint64{7, 9}); m != 9 || len(s) != 0 {
		t.Fatalf("plan(7,9) = %d, %v; want 9, []", m, s)
	}
	if len(tr.settled) != 0 {
		t.Fatalf("settled tags left behind: %v", tr.settled)
	}
}

// TestAckTrackerHeldTagDisables: a request that never finishes holds the
// lowest tag; the tracker gives up batching rather than grow.
func TestAckTrackerHeldTagDisables(t *testing.T) {
	tr := newAckTracker()
	for tag := uint64(2); tag <= maxSettledAhead+2; tag++ {
		tr.settle(tag)
	}
	if !tr.disabled || tr.settled != nil {
		t.Fatalf("after %d settled tags above a held one: disabled=%v, %d kept", maxSettledAhead+1, tr.disabled, len(tr.settled))
	}
	if m, s := tr.plan([]uint64{1, 9000}); m != 0 || len(s) != 2 {
		t.Fatalf("disabled: plan = %d, %v; want every tag single", m, s)
	}
}

// TestAckTrackerNeverAcksTwice plays the broker: deliveries 1..n finish in
// a random order, some acked one by one by other goroutines (settle after
// the ack), the rest in runs through plan. No ack may name a tag already
// acked or cover one not finished, and every tag must end acked.
func TestAckTrackerNeverAcksTwice(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		const n = 300
		tr := newAckTracker()
		finished := make([]bool, n+1)
		acked := make([]bool, n+1)
		ackOne := func(tag uint64) {
			if acked[tag] || !finished[tag] {
				t.Fatalf("seed %d: single ack of tag %d (acked %v, finished %v)", seed, tag, acked[tag], finished[tag])
			}
			acked[tag] = true
		}
		ackUpTo := func(w uint64) {
			for tag := uint64(1); tag <= w; tag++ {
				if !acked[tag] && !finished[tag] {
					t.Fatalf("seed %d: multiple ack %d covers unfinished tag %d", seed, w, tag)
				}
				acked[tag] = true
			}
		}
		order := rng.Perm(n)
		for i := 0; i < n; {
			if rng.IntN(3) == 0 { // acked elsewhere, one by one
				tag := uint64(order[i] + 1)
				finished[tag] = true
				ackOne(tag)
				tr.settle(tag)
				i++
				continue
			}
			k := min(1+rng.IntN(8), n-i)
			var run []uint64
			for _, o := range order[i : i+k] {
				tag := uint64(o + 1)
				finished[tag] = true
				run = append(run, tag)
			}
			i += k
			m, single := tr.plan(run)
			if m > 0 {
				ackUpTo(m)
			}
			for _, tag := range single {
				ackOne(tag)
				tr.settle(tag)
			}
		}
		for tag := 1; tag <= n; tag++ {
			if !acked[tag] {
				t.Fatalf("seed %d: tag %d never acked", seed, tag)
			}
		}
	}
}
