#!/usr/bin/env bash
# Regenerates example/gen from example/proto with protoc: protoc-gen-go,
# protoc-gen-go-grpc and protoc-gen-svcclient side by side, as a user who
# runs all three would. Needs protoc (Debian: protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -C tools -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
if [ -d cmd/protoc-gen-svcclient ]; then
  go build -o "$bin/" ./cmd/protoc-gen-svcclient
  svc=(--svcclient_out=. --svcclient_opt=module=github.com/svcclient/svcclient)
else
  svc=()
fi
rm -rf example/gen
mkdir -p example/gen
PATH="$bin:$PATH" protoc -I example/proto -I third_party/googleapis \
  --go_out=. --go_opt=module=github.com/svcclient/svcclient \
  --go-grpc_out=. --go-grpc_opt=module=github.com/svcclient/svcclient \
  "${svc[@]}" \
  $(cd example/proto && find . -name '*.proto' | sed 's|^\./||' | sort)
