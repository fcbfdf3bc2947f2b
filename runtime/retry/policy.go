package retry

import (
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
)

// maxAttemptsCap is gRFC A6's limit on attempts: larger values are lowered
// to it, as grpc-go does.
const maxAttemptsCap = 5

// Policy is how one method's calls are retried. The zero value of a field
// means "not set"; [Policy.validate] says which fields are required.
type Policy struct {
	// MaxAttempts counts the original call: 3 means at most two retries.
	// It must be at least 2; values above 5 are lowered to 5.
	MaxAttempts int
	// InitialBackoff is the upper bound of the random delay before the
	// first retry; each retry multiplies the bound by BackoffMultiplier, up
	// to MaxBackoff. The delay is uniform in [0, bound) ("full jitter").
	InitialBackoff time.Duration
	// MaxBackoff caps the backoff bound.
	MaxBackoff time.Duration
	// BackoffMultiplier grows the bound after each retry; it must be > 0.
	BackoffMultiplier float64
	// RetryableCodes are the status codes that may be retried. Required.
	RetryableCodes []codes.Code
	// Timeout, when positive, bounds the whole call (every attempt and
	// backoff), as service config's "timeout". A shorter deadline already
	// on the context wins.
	Timeout time.Duration
	// WaitForReady, when set, adds grpc.WaitForReady(*WaitForReady) before
	// the caller's own options on every attempt.
	WaitForReady *bool
	// RetryNonIdempotent retries the method after its request may have
	// reached the service even though its descriptor does not mark it
	// NO_SIDE_EFFECTS or IDEMPOTENT. Set it only for methods whose
	// handlers are known to be safe to run twice.
	RetryNonIdempotent bool
}

// validate checks p as grpc-go checks a retryPolicy and returns p with
// MaxAttempts capped.
func (p Policy) validate() (Policy, error) {
	switch {
	case p.MaxAttempts < 2:
		return p, fmt.Errorf("maxAttempts is %d: it must be at least 2", p.MaxAttempts)
	case p.InitialBackoff <= 0:
		return p, fmt.Errorf("initialBackoff is %v: it must be positive", p.InitialBackoff)
	case p.MaxBackoff <= 0:
		return p, fmt.Errorf("maxBackoff is %v: it must be positive", p.MaxBackoff)
	case !(p.BackoffMultiplier > 0): // also refuses NaN
		return p, fmt.Errorf("backoffMultiplier is %v: it must be positive", p.BackoffMultiplier)
	case len(p.RetryableCodes) == 0:
		return p, fmt.Errorf("retryableStatusCodes is empty: name at least one code")
	case p.Timeout < 0:
		return p, fmt.Errorf("timeout is %v: it must not be negative", p.Timeout)
	}
	for _, c := range p.RetryableCodes {
		if c == codes.OK || c > codes.Unauthenticated {
			return p, fmt.Errorf("retryableStatusCodes: %v is not a retryable gRPC status code", c)
		}
	}
	p.MaxAttempts = min(p.MaxAttempts, maxAttemptsCap)
	return p, nil
}

// policy is a validated Policy with its codes as a set.
type policy struct {
	Policy
	retryable uint32 // bit c set: code c is retryable
}

func newPolicy(p Policy) (*policy, error) {
	p, err := p.validate()
	if err != nil {
		return nil, err
	}
	out := &policy{Policy: p}
	for _, c := range p.RetryableCodes {
		out.retryable |= 1 << c
	}
	return out, nil
}

func (p *policy) retries(c codes.Code) bool {
	return c <= codes.Unauthenticated && p.retryable&(1<<c) != 0
}
