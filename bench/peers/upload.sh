#!/usr/bin/env bash
# Upload pipeline benchmark (issue 6 item 2): the same file uploaded to a local-mode
# `cipherdrop serve` through CipherDropClient (encrypted) and as a plain presigned
# multipart upload (same API calls, part size, concurrency), alternating, in headless
# Chromium. Prints JSON with both times, the ratio (goal <= 1.10) and throughput.
# Builds the package and the release binary (set CIPHERDROP_BIN to skip the latter).
#
#   bench/peers/upload.sh [--mib 1024] [--runs 3] [--part-mib 16] [--concurrency 4]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cipherdrop-target}"
"$ROOT/scripts/build-wasm.sh" >&2
if [ -z "${CIPHERDROP_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --locked -p cipherdrop-server --bin cipherdrop >&2)
  export CIPHERDROP_BIN="$CARGO_TARGET_DIR/release/cipherdrop"
fi
cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error >&2
node upload.mjs "$@"
