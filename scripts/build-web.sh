#!/usr/bin/env bash
# Builds the page into web/dist (served by `cipherdrop serve --web-dir web/dist`):
# the npm package in wasm/pkg first when it is missing (scripts/build-wasm.sh), then
# the page's dependencies (npm ci, from web/package-lock.json) and `vite build`.
# Idempotent: re-running rebuilds the page only.
#
#   scripts/build-web.sh            # build web/dist
#   scripts/build-web.sh --wasm     # also rebuild wasm/pkg first
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "${1:-}" = "--wasm" ] || [ ! -f "$ROOT/wasm/pkg/package.json" ] || [ ! -f "$ROOT/wasm/pkg/cipherdrop_wasm_bg.wasm" ]; then
  echo "build-web: building the cipherdrop package (wasm/pkg)" >&2
  "$ROOT/scripts/build-wasm.sh"
fi

cd "$ROOT/web"
# The package is a local file: dependency, so npm links wasm/pkg: reinstall only when
# the lockfile changed or the link is missing.
if [ ! -e node_modules/cipherdrop/package.json ] || [ ! -e node_modules/.bin/vite ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx --no-install vite build --logLevel warn
echo "build-web: page in $ROOT/web/dist ($(du -sk "$ROOT/web/dist" | cut -f1) KiB)"
