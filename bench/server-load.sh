#!/usr/bin/env bash
# Load test of "start an upload" (POST /api/uploads: data key + presigned PUT) on loopback.
#
#   bench/server-load.sh [local|moto-cache|moto-nocache|all]   (default: all)
#
# Builds or installs what is missing and nothing else: wrk (Debian), moto_server + boto3
# for the moto runs (pip install 'moto[server]'), the release `cipherdrop` in the same
# CARGO_TARGET_DIR as the other scripts (~/.cache/cipherdrop-target; set CIPHERDROP_BIN
# to use another build). Needs curl and python3.
# Env: CONNECTIONS (64), THREADS (2), DURATION (20s local, 10s moto), SIZE (1048576).
# Prints requests/s, latency percentiles, errors, server peak RSS, and for moto the KMS
# GenerateDataKey calls per 1,000 uploads. Only loopback is used; every run is bounded;
# the servers' data directories are removed at exit, Ctrl-C included.
# Smallest run (about 10 s once built): DURATION=2s bench/server-load.sh local
set -euo pipefail

MODE=${1:-all}
case $MODE in
  local | moto-cache | moto-nocache | all) ;;
  *) echo "usage: $0 [local|moto-cache|moto-nocache|all]" >&2; exit 2 ;;
esac
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SIZE=${SIZE:-1048576}
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
bench_scratch bench-server-load
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT

ensure_apt wrk wrk >&2
[ "$MODE" = local ] || ensure_moto >&2
ensure_cipherdrop

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url
  for _ in $(seq 1 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "not up: $1" >&2; return 1
}

cat > "$WORK/start.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"size":$SIZE}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CD_TOKEN")
LUA

# run_load NAME DURATION -- serve args...
run_load() {
  local name=$1 duration=$2; shift 3
  local port; port=$(free_port)
  local mport; mport=$(free_port)
  RUST_LOG=warn "$CIPHERDROP_BIN" serve --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$mport" \
    --data-dir "$WORK/data-$name" --rate-limit 0 "$@" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  local base="http://127.0.0.1:$port"
  wait_http "$base/healthz"
  CD_TOKEN=$(curl -sf -XPOST "$base/auth/dev-login" -H 'content-type: application/json' \
    -d '{"user":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export CD_TOKEN
  # Warm up (first data key, connections), then measure.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK/start.lua" "$base/api/uploads" >/dev/null
  local before; before=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^cipherdrop_key_generate_calls_total/ {print $2}')
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -s "$WORK/start.lua" "$base/api/uploads" >"$WORK/$name.wrk"
  local after; after=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^cipherdrop_key_generate_calls_total/ {print $2}')
  local rss; rss=$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")
  local requests; requests=$(awk '/requests in/ {print $1}' "$WORK/$name.wrk")
  echo "=== $name: $CONNECTIONS connections, $THREADS threads, $duration, POST /api/uploads {\"size\":$SIZE}"
  grep -E "Requests/sec|Latency  |50%|90%|99%|requests in|Non-2xx|Socket errors" "$WORK/$name.wrk"
  echo "server peak RSS: $rss"
  echo "key-service GenerateDataKey calls: $((after - before)) for $requests uploads ($(python3 -c "print(round(1000*($after-$before)/max(1,$requests),3))") per 1,000)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

start_moto() {
  MOTO_PORT=$(free_port)
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" || wait_http "http://127.0.0.1:$MOTO_PORT/"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  KMS_KEY=$(python3 - "$MOTO_PORT" <<'PY'
import sys, boto3
url = f"http://127.0.0.1:{sys.argv[1]}"
boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="bench")
print(boto3.client("kms", endpoint_url=url, region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"])
PY
)
}

moto_args() {
  echo --bucket bench --kms-key-id "$KMS_KEY" --endpoint-url "http://127.0.0.1:$MOTO_PORT" --region us-east-1 --dev-login true
}

case $MODE in
  local|all) run_load local "${DURATION:-20s}" -- ;;&
  moto-cache|moto-nocache|all)
    start_moto
    if [[ $MODE != moto-nocache ]]; then run_load moto-cache "${DURATION:-10s}" -- $(moto_args); fi
    if [[ $MODE != moto-cache ]]; then run_load moto-nocache "${DURATION:-10s}" -- $(moto_args) --key-cache-max-age 0; fi
    ;;
esac
