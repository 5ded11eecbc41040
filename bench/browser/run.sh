#!/usr/bin/env bash
# Browser benchmark in headless Chromium (prints JSON): raw WebCrypto AES-256-GCM at
# 16K/64K/256K/1M chunks, the wasm AES-GCM, and the package's EncryptStream /
# DecryptStream end to end from a 256 MiB Blob, with their ratio to the best raw figure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/scripts/build-wasm.sh" >&2
(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >&2)
(cd "$ROOT/bench/peers" && npm ci --no-audit --no-fund --loglevel=error >&2)
node "$ROOT/bench/browser/run.mjs" "$@"
