#!/usr/bin/env bash
# The page's memory and speed on a big upload (issue 5 item 3; not in CI):
#
#   bench/web/run.sh [--gib 2] [--rounds 2] [--concurrency 4] [--link 100MB/s | --link 800Mbit/s]
#                    [--download] [--devtools-network]
#
# Starts `cipherdrop serve` in the local mode on loopback with a temporary data
# directory and runs bench/web/run.mjs (headless Chromium: the page's encrypted upload
# vs a plain presigned upload of the same bytes, peak renderer memory). Prints JSON.
# --link emulates an upload link of that speed (DevTools network emulation; units
# MB/s = 10^6 bytes/s, or Mbit/s = 10^6 bits/s); without it, loopback at full speed.
# --download also downloads the last upload through the page (plain fetch, file picker,
# service worker).
#
# Chromium is driven with the DevTools Network domain OFF (a bare DevTools protocol
# client, bench/peers/lib/chromium.mjs) unless the run needs it: --link and --download
# runs, and --devtools-network ones (to compare with figures taken that way), are
# driven by playwright-core, which turns the Network domain on for the page and its
# workers. With it on, Chromium copies every ArrayBuffer/Uint8Array request body into
# a DevTools event: such uploads get about 10x slower and use more memory (Blob bodies
# are not copied). The JSON's devtoolsNetwork says which driver a run used.
#
# Builds or installs what is missing and nothing else: Chromium (Debian), the package
# and the page (scripts/build-wasm.sh, scripts/build-web.sh), the release `cipherdrop`
# (set CIPHERDROP_BIN to use another build), playwright-core (npm ci in bench/peers,
# only when its lockfile changed). The file, the server's data and Chromium's profile
# live in a scratch directory removed at exit, Ctrl-C included: needs about 3x the
# file size free in /tmp. Smallest run: bench/web/run.sh --gib 0.03125 --rounds 1
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
# Refuse bad options before building anything.
node "$ROOT/bench/web/run.mjs" --check-options "$@"
bench_scratch bench-web
ensure_bench_node
ensure_cipherdrop
# The page bundles wasm/pkg: rebuild the package (the wasm only when it changed) and the
# page. CIPHERDROP_BENCH_NO_COPY=1 keeps wasm/pkg as it is (e.g. another client.js
# swapped in by hand to compare two versions).
if [ -z "${CIPHERDROP_BENCH_NO_COPY:-}" ] || [ ! -f "$ROOT/wasm/pkg/package.json" ]; then ensure_wasm_pkg; fi
"$ROOT/scripts/build-web.sh" >&2

"$CIPHERDROP_BIN" serve --listen 127.0.0.1:0 --web-dir "$ROOT/web/dist" --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
PID=$!
BENCH_PIDS+=("$PID")
URL=""
for _ in $(seq 1 150); do
  URL="$(sed -n 's/^CipherDrop is running at \(http[^ ]*\).*/\1/p' "$WORK/serve.log" | head -n1)"
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.2
done
[ -n "$URL" ] || { echo "cipherdrop serve did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "bench/web: cipherdrop serve at $URL ($CIPHERDROP_BIN)" >&2
CIPHERDROP_SERVER_PID=$PID node "$ROOT/bench/web/run.mjs" --url "$URL" "$@"
