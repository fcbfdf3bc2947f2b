// Package bench measures svcclient against what its users would pick
// instead, side by side in one run: protoc-gen-go-grpc's client, connect-go,
// grpc-gateway, a hand-written net/http client and a raw amqp091-go loop.
// See BENCHMARKS.md for the command, the figures and how to read them.
package bench
