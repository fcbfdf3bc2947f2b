#!/usr/bin/env bash
# Regenerates example/gen, golden/gen and bench/gen with buf (built from the Go module
# proxy through tools/buf): protoc-gen-go, protoc-gen-go-grpc and
# protoc-gen-svcclient side by side, as a user who runs all three would.
# The golden tests check in-process that our part is what the generator
# produces now; CI runs this and fails if git sees a difference.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -C tools -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  connectrpc.com/connect/cmd/protoc-gen-connect-go github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway
go build -o "$bin/" ./cmd/protoc-gen-svcclient
go build -C tools/buf -o "$bin/" github.com/bufbuild/buf/cmd/buf
rm -rf example/gen golden/gen bench/gen
PATH="$bin:$PATH" buf generate
PATH="$bin:$PATH" buf generate --template bench/buf.gen.yaml
