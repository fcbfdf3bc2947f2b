#!/usr/bin/env bash
# The test command: every check CI runs, in the order it runs them.
#
#   ./scripts/test.sh
#
# Needs Go. protoc (Debian: protobuf-compiler) enables the protoc end-to-end
# check, a RabbitMQ broker at AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/)
# the AMQP tests, the rabbitmq-server package the 3-node cluster tests, and
# Node.js with npm the Node.js interop test; each is skipped with a message
# when missing, unless SVCCLIENT_REQUIRE_TOOLS=1, SVCCLIENT_REQUIRE_AMQP=1 and
# SVCCLIENT_REQUIRE_AMQP_CLUSTER=1 (as CI sets them) make that a failure.
# SVCCLIENT_FUZZTIME (default 3s) is how long each fuzz target runs. The
# first run builds buf and the conformance runner from the Go module proxy,
# which takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
require_tools=${SVCCLIENT_REQUIRE_TOOLS:-0}
modules=(.)
for m in interop bench otel conformance; do
  [ -f "$m/go.mod" ] && modules+=("$m")
done

step "gofmt"
unformatted=$(git ls-files -co --exclude-standard '*.go' | grep -v /node_modules/ | xargs gofmt -l)
if [ -n "$unformatted" ]; then
  echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi

step "go mod tidy (${modules[*]} tools tools/buf)"
for m in "${modules[@]}" tools tools/buf; do
  (cd "$m" && go mod tidy -diff) || { echo "$m/go.mod is not tidy: run go mod tidy in $m"; exit 1; }
done

step "go vet (${modules[*]})"
for m in "${modules[@]}"; do (cd "$m" && go vet ./...); done

step "generated code is what the generators produce now (buf generate, then git status)"
./scripts/generate.sh
if [ -n "$(git status --porcelain -- example/gen golden/gen bench/gen)" ]; then
  git status --short -- example/gen golden/gen bench/gen
  git diff --stat -- example/gen golden/gen bench/gen
  echo "example/gen or golden/gen is stale: run ./scripts/generate.sh and commit the result"; exit 1
fi

step "protoc end to end"
if command -v protoc >/dev/null; then
  ./scripts/check-protoc.sh
  interop/generate.sh
  if [ -n "$(git status --porcelain -- interop/gen)" ]; then
    git status --short -- interop/gen
    echo "interop/gen is stale: run interop/generate.sh and commit the result"; exit 1
  fi
  conformance/generate.sh
  if [ -n "$(git status --porcelain -- conformance/gen)" ]; then
    git status --short -- conformance/gen
    echo "conformance/gen is stale: run conformance/generate.sh and commit the result"; exit 1
  fi
elif [ "$require_tools" = 1 ]; then
  echo "protoc is not installed (apt-get install protobuf-compiler)"; exit 1
else
  echo "skipped: protoc is not installed (apt-get install protobuf-compiler)"
fi

if [ -d bench ]; then
  step "benchmarks, once each, so they cannot rot (timings are not checked here)"
  (cd bench && go test -run='^$' -bench=. -benchtime=1x ./...)
  (cd otel && go test -run='^$' -bench=. -benchtime=1x ./...)
fi

# Every fuzz target of the main module, briefly: `go test` above runs their
# seed corpora; this looks a little further each run, so that a regression
# in a parser shows up in CI. SVCCLIENT_FUZZTIME sets the time per target.
step "fuzzing each target for ${SVCCLIENT_FUZZTIME:-3s}"
git grep -l '^func Fuzz' -- '*_test.go' ':!interop' ':!bench' ':!tools' ':!otel' ':!conformance' | while read -r file; do
  pkg=./$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "$pkg $target"
    # Go's fuzzer can end a clean run with "context deadline exceeded" when
    # -fuzztime runs out while a worker is busy (seen on a loaded machine):
    # such a run wrote no failing input, and runs once more; a run that
    # found one fails at once.
    for attempt in 1 2; do
      if go test -run='^$' -fuzz="^${target}\$" -fuzztime="${SVCCLIENT_FUZZTIME:-3s}" "$pkg" >/tmp/svcclient-fuzz.log 2>&1; then
        break
      fi
      if [ "$attempt" = 1 ] && [ -z "$(git status --porcelain -- "$pkg/testdata/fuzz/$target")" ] &&
        grep -q 'context deadline exceeded' /tmp/svcclient-fuzz.log; then
        echo "  the fuzzer timed out without a failing input: once more"
        continue
      fi
      cat /tmp/svcclient-fuzz.log
      echo "fuzzing $target in $pkg failed; the failing input is in $pkg/testdata/fuzz/$target"
      exit 1
    done
  done
done

# The main module goes last, so the run closes on its results.
step "tests with the race detector (${modules[*]})"
for m in "${modules[@]:1}" .; do
  (cd "$m" && go test -race -count=1 ./...)
done
