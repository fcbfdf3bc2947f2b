#!/usr/bin/env bash
# Regenerates conformance/gen from the .proto files that the pinned
# connectrpc.com/conformance module ships (its own generated Go code is under
# internal/ and cannot be imported from here): protoc-gen-go for the
# messages, pinned in tools/, and protoc-gen-svcclient for the service, built
# from this repository. Nothing is fetched from a schema registry.
#
# Usage: conformance/generate.sh   (from anywhere; needs protoc on PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -C "$root/tools" -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go
go build -C "$root" -o "$bin/" ./cmd/protoc-gen-svcclient

protos="$(go list -C "$here" -m -f '{{.Dir}}' connectrpc.com/conformance)/proto"
files=(client_compat config server_compat service suite)
pkg=github.com/svcclient/svcclient/conformance/gen/conformancev1
opt=module=github.com/svcclient/svcclient/conformance
for f in "${files[@]}"; do
  opt+=",Mconnectrpc/conformance/v1/$f.proto=$pkg;conformancev1"
done

rm -rf "$here/gen"
mkdir -p "$here/gen"
PATH="$bin:$PATH" protoc -I "$protos" \
  --go_out="$here" --go_opt="$opt" \
  --svcclient_out="$here" --svcclient_opt="$opt" \
  $(printf "connectrpc/conformance/v1/%s.proto " "${files[@]}")
gofmt -l "$here/gen" | (! grep .)
