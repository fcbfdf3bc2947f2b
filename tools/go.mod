// Module tools pins the code generators and buf that regenerate
// example/gen and run the end-to-end checks. It is separate so that these
// tools never enter the module graph of svcclient's users.
module github.com/svcclient/svcclient/tools

go 1.26.0

tool (
	google.golang.org/grpc/cmd/protoc-gen-go-grpc
	google.golang.org/protobuf/cmd/protoc-gen-go
)

require (
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
