package runtime

import "github.com/svcclient/svcclient/runtime/transport"

// ErrNotSent matches, with errors.Is, every error of a call whose request
// never left the client: the service cannot have seen it, so trying it on
// another transport is always safe. [NewFallbackConn] moves on after such
// an error whatever the method's idempotency; a retry policy can do the
// same. Every transport in this module marks the errors it returns before
// sending, the gRPC one included.
var ErrNotSent = transport.ErrNotSent
