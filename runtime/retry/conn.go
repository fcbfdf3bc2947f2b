package retry

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// NewConn returns conn with the retry policies of opts applied to every
// call, and a retry budget of its own. It works on every connection of this
// module and on a *grpc.ClientConn. Calls of methods without a policy go
// straight to conn. The error is the first invalid option's.
func NewConn(conn grpc.ClientConnInterface, opts ...Option) (grpc.ClientConnInterface, error) {
	r, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return r.Conn(conn), nil
}

// Conn returns conn with r's policies applied. Every connection returned
// shares r's retry budget.
func (r *Retrier) Conn(conn grpc.ClientConnInterface) grpc.ClientConnInterface {
	return &retryConn{r: r, next: conn}
}

type retryConn struct {
	r    *Retrier
	next grpc.ClientConnInterface
}

func (c *retryConn) Invoke(ctx context.Context, method string, req, reply any, opts ...grpc.CallOption) error {
	p := c.r.policyFor(method)
	if p == nil {
		return c.next.Invoke(ctx, method, req, reply, opts...)
	}
	return c.r.invoke(ctx, p, method, req, reply, opts, func(ctx context.Context, opts []grpc.CallOption) error {
		return c.next.Invoke(ctx, method, req, reply, opts...)
	})
}

func (c *retryConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	p := c.r.policyFor(method)
	if p == nil {
		return c.next.NewStream(ctx, desc, method, opts...)
	}
	return c.r.newStream(ctx, p, desc, method, opts, func(ctx context.Context, opts []grpc.CallOption) (grpc.ClientStream, error) {
		return c.next.NewStream(ctx, desc, method, opts...)
	})
}

// UnaryClientInterceptor returns an interceptor that applies r's policies,
// for runtime.WithUnaryInterceptors or grpc.WithUnaryInterceptor.
func (r *Retrier) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		p := r.policyFor(method)
		if p == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		return r.invoke(ctx, p, method, req, reply, opts, func(ctx context.Context, opts []grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		})
	}
}

// StreamClientInterceptor returns an interceptor that applies r's policies
// to streams, for runtime.WithStreamInterceptors or
// grpc.WithStreamInterceptor.
func (r *Retrier) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		p := r.policyFor(method)
		if p == nil {
			return streamer(ctx, desc, cc, method, opts...)
		}
		return r.newStream(ctx, p, desc, method, opts, func(ctx context.Context, opts []grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		})
	}
}

// invoke runs a unary call under p: attempts until one succeeds or
// retryAfter says stop, then reports the end once to the caller's
// OnFinish callbacks.
func (r *Retrier) invoke(ctx context.Context, p *policy, method string, req, reply any, opts []grpc.CallOption, attempt func(context.Context, []grpc.CallOption) error) error {
	ctx, cancel := withTimeout(ctx, p)
	defer cancel()
	var header, trailer metadata.MD
	aopts, onFinish := attemptOptions(p, opts, grpc.Header(&header), grpc.Trailer(&trailer))
	c := r.newCall(ctx, p, method)
	var err error
	for {
		header, trailer = nil, nil
		if err = attempt(ctx, aopts); err == nil {
			r.throttle.success()
			break
		}
		delay, again := c.retryAfter(err, header, trailer)
		if !again {
			break
		}
		if werr := c.wait(delay); werr != nil {
			err = werr
			break
		}
		if m, ok := reply.(proto.Message); ok {
			proto.Reset(m) // a failed attempt may have filled part of it
		}
	}
	f := finisher{fns: onFinish}
	f.report(err)
	return err
}
