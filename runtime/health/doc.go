// Package health serves the standard grpc.health.v1.Health service on
// every transport, and lets clients use it over any connection.
//
// The server side is grpc-go's own health server
// ([google.golang.org/grpc/health.Server]) bound to a [runtime.Service], so
// its behaviour is the one grpc-go users know: the empty service name ""
// stands for the whole server and starts SERVING, Check of a service never
// set answers NotFound, Watch sends the current status at once and then
// every change (SERVICE_UNKNOWN for a service never set), and Shutdown
// sets every service NOT_SERVING and ignores later changes until Resume.
//
// Check (and List) are unary and work over gRPC, HTTP (Connect route), AMQP
// and in process. Watch is server streaming: it works over gRPC, HTTP and in
// process; the AMQP transport carries unary calls only and answers Watch
// with Unimplemented (before sending anything), so AMQP clients poll Check.
//
// On the client side any connection will do:
// grpc_health_v1.NewHealthClient(conn) works over every transport, and
// [Check] is a one-line shortcut. A [Conn] keeps track of its server's
// health; given to runtime.NewFallbackConn, it makes the fallback try a
// transport whose server reports NOT_SERVING (or cannot be reached) after
// the others.
package health
