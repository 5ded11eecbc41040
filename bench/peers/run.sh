#!/usr/bin/env bash
# The peer benchmark in headless Chromium (Debian's /usr/bin/chromium through
# playwright-core; never `npx playwright install`). Builds the package
# (scripts/build-wasm.sh), installs the peers from package-lock.json, bundles the
# page with esbuild, runs it; prints JSON. --write also updates the Peers section of
# docs/BENCHMARKS.md and docs/peers.svg. About 2-4 minutes on 2 cores.
#
#   bench/peers/run.sh [--write] [--runs 3] [--sizes 16,256] [--only CipherDrop,libsodium]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
"$ROOT/scripts/build-wasm.sh" >&2
cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error >&2
node build.mjs >&2
node run.mjs "$@"
