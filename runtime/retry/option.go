package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Option configures a [Retrier].
type Option interface {
	apply(*Retrier) error
}

type optionFunc func(*Retrier) error

func (f optionFunc) apply(r *Retrier) error { return f(r) }

// WithPolicy sets the policy of name: "/pkg.Service/Method" for one method,
// "pkg.Service" for every method of a service, "" for every method. The
// most specific name wins; a later option for the same name replaces an
// earlier one.
func WithPolicy(name string, p Policy) Option {
	return optionFunc(func(r *Retrier) error {
		vp, err := newPolicy(p)
		if err != nil {
			return fmt.Errorf("retry: policy for %q: %v", name, err)
		}
		r.policies[name] = vp
		return nil
	})
}

// WithServiceConfig applies every policy of sc (see [ParseServiceConfig])
// and its throttling, if any.
func WithServiceConfig(sc *ServiceConfig) Option {
	return optionFunc(func(r *Retrier) error {
		if sc == nil {
			return nil
		}
		for name, p := range sc.Policies {
			if p.MaxAttempts == 0 {
				// A methodConfig without retryPolicy: timeout and
				// waitForReady only.
				r.policies[name] = &policy{Policy: p}
				continue
			}
			if err := WithPolicy(name, p).apply(r); err != nil {
				return err
			}
		}
		if sc.Throttling != nil {
			return WithThrottling(*sc.Throttling).apply(r)
		}
		return nil
	})
}

// WithThrottling sets the retry budget of the connection (gRPC's
// retryThrottling): when most calls fail, retries stop until enough calls
// succeed again.
func WithThrottling(t Throttling) Option {
	return optionFunc(func(r *Retrier) error {
		if err := t.validate(); err != nil {
			return fmt.Errorf("retry: %v", err)
		}
		r.throttle = newThrottler(t)
		return nil
	})
}

// clock is the time a Retrier reads and waits on; tests use a fake one.
type clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		// Both may be ready when this goroutine runs late: the deadline
		// wins, so that no attempt starts after it.
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withClock replaces the clock and the jitter source, for tests.
func withClock(c clock, random func() float64) Option {
	return optionFunc(func(r *Retrier) error {
		r.clock, r.random = c, random
		return nil
	})
}

func defaultRandom() float64 { return rand.Float64() }
