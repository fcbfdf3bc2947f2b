// Package transport is for authors of svcclient transports: what the gRPC,
// HTTP and AMQP transports in this module share, and what a new transport
// needs to carry calls with the same semantics.
//
// Users of generated clients and servers do not need it: they import
// [github.com/svcclient/svcclient/runtime] and one transport package.
//
// A transport's client half is a [google.golang.org/grpc.ClientConnInterface].
// It finds the method being called with [Lookup], reads the caller's
// grpc.CallOption values with [ReadCallOptions] and reports what it learned
// with [CallInfo.Finish]; an error it returns before the request could have
// left the client is wrapped with [NotSent], so that a fallback connection
// knows it may try another transport.
//
// A transport's server half serves the [Handler] values of a
// runtime.Service: it decodes the request, installs a [ServerCall] in the
// handler's context so that grpc.SetHeader and grpc.SetTrailer work, and
// calls [Handler.Unary] or [Handler.Stream], which run the service's
// interceptors and recover panics.
package transport
