#!/usr/bin/env bash
# Browser benchmark in headless Chromium (prints JSON): raw WebCrypto AES-256-GCM at
# 16K/64K/256K/1M chunks, the wasm AES-GCM, the package's EncryptStream /
# DecryptStream fed from memory (64/256 MiB; also paired with raw WebCrypto run by
# run, with Chromium's CPU seconds per step) and end to end from a 256 MiB File, and
# the File read alone (file.stream() and slice().arrayBuffer() with 1-4 in flight).
# Options: see bench/browser/run.mjs (--parts, --memory-mib, --in-flight, --runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/scripts/build-wasm.sh" >&2
(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >&2)
(cd "$ROOT/bench/peers" && npm ci --no-audit --no-fund --loglevel=error >&2)
node "$ROOT/bench/browser/run.mjs" "$@"
