// Module conformance runs the Connect conformance suite
// (connectrpc.com/conformance) against svcclient's HTTP transport, client
// and handler. It is a module of its own so that the suite and its
// dependencies never enter the module graph of svcclient's users.
package conformance
