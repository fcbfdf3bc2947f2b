package amqptransport

import (
	"testing"
	"time"
)

// TestBackoffDelay checks the default reconnect delays: within [0, d] for
// d = 50 ms doubling to a 1 s cap (full jitter), never above the cap, and
// spread rather than constant.
func TestBackoffDelay(t *testing.T) {
	for retries, ceiling := range []time.Duration{50, 100, 200, 400, 800, 1000, 1000, 1000} {
		ceiling *= time.Millisecond
		var lowest, highest time.Duration = ceiling, 0
		for range 2000 {
			d := backoffDelay(DefaultBackoff, retries)
			if d < 0 || d > ceiling {
				t.Fatalf("retries %d: delay %v outside [0, %v]", retries, d, ceiling)
			}
			lowest, highest = min(lowest, d), max(highest, d)
		}
		// Full jitter: 2000 draws from [0, d] reach both ends' tenths.
		if lowest > ceiling/10 || highest < ceiling*9/10 {
			t.Errorf("retries %d: delays span [%v, %v], want about [0, %v]", retries, lowest, highest, ceiling)
		}
	}
	if d := backoffDelay(DefaultBackoff, 1000); d > time.Second {
		t.Errorf("after 1000 retries: %v, want at most 1s", d)
	}
}

// TestBackoffDelayWithoutJitter: Jitter 0 gives the exponential delays
// exactly, capped.
func TestBackoffDelayWithoutJitter(t *testing.T) {
	cfg := DefaultBackoff
	cfg.Jitter = 0
	for retries, want := range []time.Duration{50, 100, 200, 400, 800, 1000, 1000} {
		if got := backoffDelay(cfg, retries); got != want*time.Millisecond {
			t.Errorf("retries %d: %v, want %v", retries, got, want*time.Millisecond)
		}
	}
}
