#!/usr/bin/env bash
# The page's memory and speed on a big upload (issue 5 item 3; not in CI):
#   bench/web/run.sh [--gib 2] [--rounds 2] [--concurrency 4] [--throttle-mbps N] [--download]
# Builds the release server and the page, starts `cipherdrop serve` in the local mode
# on loopback with a temporary data directory, and runs bench/web/run.mjs (headless
# Chromium: the page's encrypted upload vs a plain presigned upload of the same
# bytes, peak renderer memory). Prints JSON. Needs ~3x the file size free in /tmp.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cipherdrop-target}"
export PATH="$HOME/.cargo/bin:$PATH"
BIN="${CIPHERDROP_BIN:-$CARGO_TARGET_DIR/release/cipherdrop}"
if [ -z "${CIPHERDROP_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -p cipherdrop-server --bin cipherdrop --quiet) >&2
fi
# The page bundles wasm/pkg: bring the package's JavaScript up to date with wasm/js
# (the wasm itself is rebuilt by scripts/build-wasm.sh, when it changed).
if [ -f "$ROOT/wasm/pkg/package.json" ] && [ -z "${CIPHERDROP_BENCH_NO_COPY:-}" ]; then cp "$ROOT"/wasm/js/*.js "$ROOT"/wasm/js/*.d.ts "$ROOT/wasm/pkg/"; fi
"$ROOT/scripts/build-web.sh" >&2
(cd "$ROOT/tests/e2e" && { [ -e node_modules/playwright-core/package.json ] || npm ci --no-audit --no-fund; }) >&2

WORK="$(mktemp -d /tmp/cipherdrop-bench-web.XXXXXX)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$BIN" serve --listen 127.0.0.1:0 --web-dir "$ROOT/web/dist" --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
PID=$!
URL=""
for _ in $(seq 1 150); do
  URL="$(sed -n 's/^CipherDrop is running at \(http[^ ]*\).*/\1/p' "$WORK/serve.log" | head -n1)"
  [ -n "$URL" ] && break
  sleep 0.2
done
[ -n "$URL" ] || { cat "$WORK/serve.log" >&2; exit 1; }
echo "bench/web: cipherdrop serve at $URL ($BIN)" >&2
CIPHERDROP_SERVER_PID=$PID node "$ROOT/bench/web/run.mjs" --url "$URL" "$@"
