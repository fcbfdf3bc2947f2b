#!/usr/bin/env bash
# End-to-end with protoc itself: runs protoc with protoc-gen-go,
# protoc-gen-go-grpc and protoc-gen-svcclient on example/proto and checks
# that the result is example/gen (which builds) but for the lines naming the
# compiler version. Needs protoc (Debian: protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -C tools -o "$tmp/bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
go build -o "$tmp/bin/" ./cmd/protoc-gen-svcclient
"$tmp/bin/protoc-gen-svcclient" --version
mkdir -p "$tmp/out"
PATH="$tmp/bin:$PATH" protoc -I example/proto -I third_party/googleapis \
  --go_out="$tmp/out" --go_opt=module=github.com/svcclient/svcclient \
  --go-grpc_out="$tmp/out" --go-grpc_opt=module=github.com/svcclient/svcclient \
  --svcclient_out="$tmp/out" --svcclient_opt=module=github.com/svcclient/svcclient \
  $(cd example/proto && find . -name '*.proto' | sed 's|^\./||' | sort)
# The only difference allowed is the compiler version each header names.
diff -r -I '^//.*protoc  *\(v[0-9]\|(unknown)\)' "$tmp/out/example/gen" example/gen
echo "protoc $(protoc --version | cut -d' ' -f2): output matches example/gen"
