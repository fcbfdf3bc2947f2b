package retry

import "sync"

// throttler is gRPC's retry token bucket (gRFC A6), kept in thousandths of
// a token as A6 asks, so that tokenRatio's three decimals are exact.
type throttler struct {
	mu        sync.Mutex
	tokens    int64 // thousandths
	max       int64
	ratio     int64
	threshold int64 // max/2: retries need tokens above it
}

func newThrottler(t Throttling) *throttler {
	max := int64(t.MaxTokens * 1000)
	return &throttler{tokens: max, max: max, ratio: int64(t.TokenRatio * 1000), threshold: max / 2}
}

// failure records a failed attempt and reports whether a retry is still
// allowed. A nil throttler always allows.
func (t *throttler) failure() (allowed bool) {
	if t == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tokens = max(t.tokens-1000, 0)
	return t.tokens > t.threshold
}

// success records a successful call.
func (t *throttler) success() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.tokens = min(t.tokens+t.ratio, t.max)
	t.mu.Unlock()
}
