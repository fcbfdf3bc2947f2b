// Module interop holds the tests that run svcclient's HTTP transport
// against connect-go and grpc-gateway, and their generated stubs. It is a
// module of its own so that those test-only dependencies never enter the
// module graph of svcclient's users.
module github.com/svcclient/svcclient/interop

go 1.26.0

replace github.com/svcclient/svcclient => ../

require (
	connectrpc.com/connect v1.21.1
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0
	github.com/svcclient/svcclient v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261026165753-2ffab32bce7e
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261026165753-2ffab32bce7e // indirect
)
