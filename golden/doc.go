// Package golden holds the plugin's golden tests. The .proto cases live in
// golden/proto; golden/gen holds what protoc-gen-go, protoc-gen-go-grpc and
// protoc-gen-svcclient generate for them (scripts/generate.sh), so that the
// build proves the three outputs compile side by side. The tests generate
// the svcclient part in-process and compare it with the checked-in files;
// `go test ./golden -update` rewrites them.
package golden
