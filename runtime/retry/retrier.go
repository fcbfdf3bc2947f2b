package retry

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svcclient/svcclient/runtime/transport"
)

// Retrier holds retry policies and one retry budget. Use one Retrier per
// target: its budget measures that target's health. [NewConn] makes one per
// connection.
type Retrier struct {
	policies map[string]*policy
	throttle *throttler
	clock    clock
	random   func() float64
}

// New returns a Retrier with opts, or the first invalid option's error.
func New(opts ...Option) (*Retrier, error) {
	r := &Retrier{policies: map[string]*policy{}, clock: realClock{}, random: defaultRandom}
	for _, o := range opts {
		if err := o.apply(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// policyFor returns the policy of fullMethod: its own, its service's, or
// the default; nil when none applies.
func (r *Retrier) policyFor(fullMethod string) *policy {
	if len(r.policies) == 0 {
		return nil
	}
	if p, ok := r.policies[fullMethod]; ok {
		return p
	}
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		if p, ok := r.policies[fullMethod[1:i]]; ok {
			return p
		}
	}
	return r.policies[""]
}

// call is the retry state of one call.
type call struct {
	r          *Retrier
	p          *policy
	ctx        context.Context
	repeatable bool // the method may be sent twice
	attempts   int  // attempts made so far
	backoffs   int  // retries since the last pushback: A6's backoff exponent
}

func (r *Retrier) newCall(ctx context.Context, p *policy, fullMethod string) *call {
	c := &call{r: r, p: p, ctx: ctx, repeatable: p.RetryNonIdempotent}
	if !c.repeatable {
		m, err := transport.Lookup(fullMethod)
		c.repeatable = err == nil && m.Repeatable()
	}
	return c
}

// retryAfter decides, after an attempt failed with err, whether to try
// again and after how long. It follows gRFC A6: pushback first, then the
// code, then the budget, then the attempt count. Before the code is known
// to be retryable, a failure does not count against the budget.
func (c *call) retryAfter(err error, header, trailer metadata.MD) (time.Duration, bool) {
	c.attempts++
	if c.p.MaxAttempts == 0 || c.ctx.Err() != nil {
		return 0, false
	}
	now := c.r.clock.Now()
	pb := readPushback(header, trailer, now)
	if pb.stop {
		c.r.throttle.failure()
		return 0, false
	}
	notSent := errors.Is(err, transport.ErrNotSent)
	code := status.Code(err)
	if !c.p.retries(code) && !(notSent && code == codes.Unavailable) {
		return 0, false
	}
	if !c.r.throttle.failure() {
		return 0, false
	}
	if !notSent && !c.repeatable {
		return 0, false
	}
	if c.attempts >= c.p.MaxAttempts {
		return 0, false
	}
	var delay time.Duration
	if pb.set {
		delay, c.backoffs = pb.delay, 0
	} else {
		bound := float64(c.p.InitialBackoff) * math.Pow(c.p.BackoffMultiplier, float64(c.backoffs))
		bound = min(bound, float64(c.p.MaxBackoff))
		delay = time.Duration(c.r.random() * bound)
		c.backoffs++
	}
	if deadline, ok := c.ctx.Deadline(); ok && !now.Add(delay).Before(deadline) {
		return 0, false // the next attempt could not start before the deadline
	}
	return delay, true
}

// wait sleeps before the next attempt. When the context ends first, it
// returns the context's status error.
func (c *call) wait(d time.Duration) error {
	if err := c.r.clock.Sleep(c.ctx, d); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// attemptOptions returns the options of every attempt: the policy's
// waitForReady first (so the caller's own wins), the caller's options
// without OnFinish (the retrier reports the call's end once), and extra.
func attemptOptions(p *policy, opts []grpc.CallOption, extra ...grpc.CallOption) (attempt []grpc.CallOption, onFinish []func(error)) {
	attempt = make([]grpc.CallOption, 0, len(opts)+len(extra)+1)
	if p.WaitForReady != nil {
		attempt = append(attempt, grpc.WaitForReady(*p.WaitForReady))
	}
	for _, o := range opts {
		if f, ok := o.(grpc.OnFinishCallOption); ok {
			onFinish = append(onFinish, f.OnFinish)
			continue
		}
		attempt = append(attempt, o)
	}
	return append(attempt, extra...), onFinish
}

// withTimeout applies the policy's timeout to ctx.
func withTimeout(ctx context.Context, p *policy) (context.Context, context.CancelFunc) {
	if p.Timeout > 0 {
		return context.WithTimeout(ctx, p.Timeout)
	}
	return ctx, func() {}
}

// finisher runs the caller's OnFinish callbacks once, for the attempt the
// caller ends up with.
type finisher struct {
	fns  []func(error)
	once sync.Once
}

func (f *finisher) report(err error) {
	if len(f.fns) == 0 {
		return
	}
	f.once.Do(func() {
		for _, fn := range f.fns {
			fn(err)
		}
	})
}

// attemptEnd connects one attempt's OnFinish to the finisher: the end is
// reported only once the attempt is committed (it is the caller's), which
// may happen before or after the transport ends the attempt.
type attemptEnd struct {
	f         *finisher
	mu        sync.Mutex
	committed bool
	ended     bool
	err       error
}

func (a *attemptEnd) onFinish(err error) {
	a.mu.Lock()
	a.ended, a.err = true, err
	committed := a.committed
	a.mu.Unlock()
	if committed {
		a.f.report(err)
	}
}

func (a *attemptEnd) commit() {
	a.mu.Lock()
	a.committed = true
	ended, err := a.ended, a.err
	a.mu.Unlock()
	if ended {
		a.f.report(err)
	}
}
