// Package httptransport carries svcclient calls over HTTP/1.1 and HTTP/2
// with JSON or binary protobuf, speaking protocols that existing clients and
// servers already speak.
//
// [NewConn] returns the client half, a [grpc.ClientConnInterface] for generated clients.
// A method without a google.api.http rule is called on its Connect route
// (https://connectrpc.com/docs/protocol): POST /package.Service/Method with
// the request as the body. A method with a rule is called on its REST route,
// transcoded as grpc-gateway transcodes it: path variables from the path
// template, the rule's body, every other set field as a query parameter.
// Server-streaming methods stream Connect envelopes on Connect routes and
// grpc-gateway's newline-delimited {"result": ...} objects on REST routes.
// Client and bidi streaming need a transport that streams requests (grpc,
// inprocess): over HTTP they fail with Unimplemented, before anything is
// sent.
//
// [NewHandler] returns the server half, an http.Handler that serves a
// [runtime.Service] on the Connect route of every method and on the REST
// routes of its rules, so that connect-go clients, grpc-gateway-shaped
// requests (curl included) and this package's client all reach the same
// implementation. [NewServeMux] serves several services on one server.
//
// Errors are gRPC status errors with their details, on both sides: Connect's
// error JSON on Connect routes, google.rpc.Status on REST routes. Metadata
// travels in headers (on REST routes prefixed with Grpc-Metadata-, as
// grpc-gateway has it), deadlines as Connect-Timeout-Ms or Grpc-Timeout.
// The client never follows redirects, whatever the origin they name, and
// whichever *http.Client it sends with: a 3xx answer fails the call with
// Internal, naming the status and the Location. Following one would send
// the call's metadata to that origin, and a 302 would turn the call into a
// GET whose answer would be decoded as the reply.
//
// docs/http-protocol.md in the repository describes the wire exactly.
package httptransport
