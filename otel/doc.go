// Package svcotel traces and measures svcclient calls with OpenTelemetry,
// the same way on every transport: gRPC, HTTP (Connect and REST), AMQP and
// in process.
//
// Its client interceptors go into a generated client with
// runtime.WithUnaryInterceptors and runtime.WithStreamInterceptors (or into
// a *grpc.ClientConn with grpc.WithChainUnaryInterceptor), its server
// interceptors into a runtime.Service with
// runtime.WithServerUnaryInterceptors and
// runtime.WithServerStreamInterceptors. Each call gets one span, named
// "package.Service/Method", with the attributes of OpenTelemetry's RPC
// semantic conventions (v1.43.0: rpc.system.name, rpc.method,
// rpc.response.status_code, error.type, server.address, server.port, and
// on AMQP the messaging attributes), and one measurement in the
// rpc.client.call.duration or rpc.server.call.duration histogram.
//
// The client injects the span's context into the call's outgoing metadata
// with the configured propagator (W3C traceparent and tracestate with
// propagation.TraceContext), and the server extracts it from the incoming
// metadata: every transport carries metadata, so a trace follows a call
// from gRPC into a service and on over AMQP or HTTP.
//
// This package is a module of its own: programs that do not import it do
// not link OpenTelemetry.
package svcotel
