#!/usr/bin/env bash
# Memory by browser engine while the page uploads a file and downloads it back
# (issue 10): see bench/web/engine-memory.mjs for what it measures and its options.
#
#   bench/web/engine-memory.sh --browser webkit --mib 256,1024 [--json] [--timeout 1800]
#
# Builds or installs what is missing and nothing else: the browsers named by --browser
# (default $CIPHERDROP_BROWSER or chromium; Debian packages, geckodriver for Firefox),
# the package and the page (scripts/build-wasm.sh, scripts/build-web.sh) and the release
# `cipherdrop` (set CIPHERDROP_BIN to use another build). The files, the download and
# the data directory are removed at exit, Ctrl-C included.
# Smallest run: bench/web/engine-memory.sh --browser chromium --mib 16
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
engines="${CIPHERDROP_BROWSER:-chromium}"
for ((i = 1; i < $#; i++)); do
  [ "${!i}" = --browser ] && { j=$((i + 1)); engines="${!j}"; }
done
select_browsers "$engines"
bench_scratch bench-engine-memory
# shellcheck disable=SC2086 # BROWSERS is a space-separated list
ensure_browsers $BROWSERS >&2
ensure_cipherdrop
ensure_wasm_pkg
"$ROOT/scripts/build-web.sh" >&2
node --experimental-websocket "$ROOT/bench/web/engine-memory.mjs" "$@"
