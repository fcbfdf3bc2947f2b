#!/usr/bin/env bash
# Regenerates interop/gen: connect-go and grpc-gateway stubs for the
# example protos, with the generators pinned in tools/ (the repository's
# tools module). The message
# types and grpc-go stubs they use are the main module's, in example/gen.
#
# Usage: interop/generate.sh   (from anywhere; needs protoc on PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -C "$root/tools" -o "$bin/" connectrpc.com/connect/cmd/protoc-gen-connect-go github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway

rm -rf "$here/gen"
mkdir -p "$here/gen"
module=github.com/svcclient/svcclient/example/gen
PATH="$bin:$PATH" protoc \
  -I "$root/example/proto" -I "$root/third_party/googleapis" \
  --connect-go_out="$here/gen" --connect-go_opt=module=$module \
  --grpc-gateway_out="$here/gen" --grpc-gateway_opt=module=$module,standalone=true \
  helloworld/helloworld.proto users/v1/users.proto streaming/v1/streaming.proto
gofmt -l "$here/gen" | (! grep .)
