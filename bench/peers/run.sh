#!/usr/bin/env bash
# The peer benchmark in headless Chromium (Debian's /usr/bin/chromium; never
# `npx playwright install`): see bench/peers/README.md. Builds the package
# (scripts/build-wasm.sh), installs the peers from package-lock.json (only when it
# changed), bundles the page with esbuild, runs it; prints JSON. Only with --write does
# it update the Peers section of docs/BENCHMARKS.md and docs/peers.svg.
# About 3-5 minutes on 2 quiet cores with the defaults.
#
#   bench/peers/run.sh [--write] [--runs 3] [--slow-runs 1] [--sizes 16,256]
#                      [--only CipherDrop,libsodium] [--flat-mib 1024] [--devtools-network]
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
bench_scratch bench-peers
ensure_bench_node
ensure_wasm_pkg
cd "$ROOT/bench/peers"
node build.mjs >&2
node run.mjs "$@"
