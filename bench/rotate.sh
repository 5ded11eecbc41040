#!/usr/bin/env bash
# Benchmark of `cipherdrop rotate` (docs/BENCHMARKS.md, "Rotation"): objects/s and bytes
# moved per object when re-wrapping small and large objects to a new key.
#
#   bench/rotate.sh [local|moto|all]   (default: all)
#
# Env: SMALL (300 objects), SMALL_SIZE (10000 B), LARGE (6 objects), LARGE_SIZE (67108864 B),
# CONCURRENCY (4). Needs moto_server for the moto run (pip install 'moto[server]').
# Prints the load average before and after each run. Only loopback is used.
set -euo pipefail

MODE=${1:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARGS=(--small "${SMALL:-300}" --small-size "${SMALL_SIZE:-10000}" --large "${LARGE:-6}"
      --large-size "${LARGE_SIZE:-67108864}" --concurrency "${CONCURRENCY:-4}")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release -q -p cipherdrop-server --example rotate_bench)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/rotate_bench"

run() {
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$BIN" "${ARGS[@]}" "$@"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [[ $MODE == local || $MODE == all ]]; then
  run
fi
if [[ $MODE == moto || $MODE == all ]]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  run --moto "http://127.0.0.1:$PORT"
fi
