// Package retry retries failed calls on any connection of this module (gRPC,
// HTTP, AMQP, in-process, the fallback connection) with the semantics of
// gRPC's client retries (gRFC A6): a policy per method or per service, full
// jitter exponential backoff, retryable status codes, server pushback and a
// retry budget (token bucket) per connection.
//
// It is safe by default. A request that may have reached the service is
// sent again only when its method is marked idempotency_level
// NO_SIDE_EFFECTS or IDEMPOTENT, or when the policy says so explicitly
// ([Policy.RetryNonIdempotent]). A call whose error matches
// runtime.ErrNotSent never left the client, so it is retried whatever the
// method (when its code is retryable, or Unavailable).
//
// A retry never outlives the call: an attempt whose backoff would end after
// the context's deadline is not started, and the last error is returned.
//
// Server pushback is read from every attempt's metadata:
//
//   - trailer grpc-retry-pushback-ms (grpc-go's): a non-negative integer is
//     the exact delay before the next attempt; a negative or malformed value
//     (or several values) means "do not retry". It reaches the client on
//     every transport: gRPC trailers, Connect's Trailer-Grpc-Retry-Pushback-Ms,
//     REST's Grpc-Trailer-Grpc-Retry-Pushback-Ms, AMQP's
//     rpc-trailer-grpc-retry-pushback-ms reply header, in-process trailers.
//   - header retry-after (HTTP's Retry-After: seconds or an HTTP-date), as
//     the HTTP transport reports it in header metadata on Connect routes.
//     A malformed Retry-After is ignored, as HTTP says.
//
// Streams: a server-streaming call is retried until its first response
// message arrives (it is then committed, as in grpc-go); client and bidi
// streams are retried only when opening them fails with an error that
// matches runtime.ErrNotSent, since their messages are not buffered.
//
// Hedging is not implemented: a service config with a hedgingPolicy is
// refused with an error rather than silently run without it.
package retry
