#!/usr/bin/env bash
# Runs the benchmark suite and prints, with benchstat, every figure of
# BENCHMARKS.md: ours beside each peer, measured in the same run.
#
#   bench/report.sh [results.txt]      (COUNT=5 by default)
#
# Needs RabbitMQ at AMQP_URL for the AMQP rows (they are skipped without it).
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "$0")/results.txt}")
cd "$(dirname "$0")"
if [ ! -s "$out" ]; then
  # The AMQP rows run a fixed 5,000 calls: the broker shares the machine,
  # and b.N's short calibration runs each declare and delete a queue.
  go test -run='^$' -bench='^Benchmark([^A]|A[^M])' -benchmem -count="${COUNT:-5}" -timeout=60m . | tee "$out"
  go test -run='^$' -bench='^BenchmarkAMQP' -benchtime=5000x -benchmem -count="${COUNT:-5}" -timeout=60m . | tee -a "$out"
fi
benchstat() { go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$@"; }
section() { printf '\n### %s\n\n' "$*"; }

section "gRPC: svcclient vs protoc-gen-go-grpc's client, same grpc-go server"
benchstat -filter '.name:/^GRPC/' -col /client "$out"
section "HTTP default route: svcclient vs connect-go's client, same connect-go server"
benchstat -filter '.name:HTTPDefaultRoute' -col /client "$out"
section "HTTP REST routes: svcclient vs hand-written net/http + protojson, same server"
benchstat -filter '.name:HTTPREST' -col /client "$out"
section "HTTP servers: svcclient's handler vs connect-go's handler and grpc-gateway's mux"
benchstat -filter '.name:HTTPServer' -col /server "$out"
section "AMQP: svcclient client+server vs a raw amqp091-go Direct Reply-to loop"
benchstat -filter '.name:/^AMQP$/' -col /client "$out"
section "AMQP at 1 call in flight, the three loops taking turns in one run (p50 and ratios)"
benchstat -filter '.name:AMQPPaired' "$out"
section "AMQP server prefetch and concurrency, 64 calls in flight"
benchstat -filter '.name:/^AMQP(Prefetch|ServerConcurrency)$/' "$out"
section "Fallback (gRPC healthy, then HTTP) vs gRPC alone"
benchstat -filter '.name:Fallback' -col /conn "$out"
section "Load: throughput and latency per transport at 1, 16 and 64 in flight"
benchstat -filter '.name:Load' "$out"
section "The plugin on 500 services x 10 methods: protoc-gen-svcclient vs protoc-gen-go-grpc"
benchstat -filter '.name:Plugin' -col /plugin "$out"
