#!/usr/bin/env bash
# The peer benchmark in headless Chromium (Debian's /usr/bin/chromium; never
# `npx playwright install`), and with --browser in Firefox (firefox-esr + geckodriver)
# and WebKit (WebKitGTK's MiniBrowser + WebKitWebDriver under Xvfb), driven as the
# tests drive them (tests/lib/browser.mjs): see bench/peers/README.md. Installs the
# chosen engines when missing (scripts/lib.sh: ensure_chromium, ensure_firefox,
# ensure_webkit), builds the package (scripts/build-wasm.sh), installs the peers from
# package-lock.json (only when it changed), bundles the page with esbuild, runs it;
# prints JSON. Only with --write (Chromium's figures) does it update the Peers section
# of docs/BENCHMARKS.md and docs/peers.svg.
# About 3-5 minutes on 2 quiet cores with the defaults, per engine.
#
#   bench/peers/run.sh [--browser chromium|firefox|webkit|all] [--write] [--runs 3]
#                      [--slow-runs 1] [--sizes 16,256] [--only CipherDrop,libsodium]
#                      [--flat-mib 1024] [--devtools-network]
# --browser: default chromium; `all` runs the three one after another (one JSON with a
# result per engine); a comma-separated list picks some.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
engines=chromium
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --browser) j=$((i + 1)); engines="${!j:?--browser needs chromium, firefox, webkit or all}" ;;
    --browser=*) engines="${!i#--browser=}" ;;
  esac
done
[ "$engines" = all ] && engines=chromium,firefox,webkit
select_browsers "$engines"
bench_scratch bench-peers
# shellcheck disable=SC2086 # BROWSERS is a space-separated list
ensure_browsers $BROWSERS >&2
ensure_npm "$BENCH_NODE"
ensure_wasm_pkg
cd "$ROOT/bench/peers"
node build.mjs >&2
# Node 20 has a global WebSocket only behind this flag (the Firefox driver talks BiDi).
node --experimental-websocket run.mjs "$@"
