#!/usr/bin/env bash
# The npm package in Node (20+), no bundler: packs the package (scripts/build-wasm.sh
# --pack), installs the tarball into tests/node/node_modules as `cipherdrop`
# (nothing else: this directory has no dependencies), builds the `cipherdrop`
# binary when CIPHERDROP_BIN is not set, and runs `node --test` here.
#
#   tests/node/run.sh                         # build, pack, install, test
#   CIPHERDROP_TARBALL=path.tgz tests/node/run.sh   # test that tarball (no wasm build)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cipherdrop-target}"

major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "tests/node: needs Node 20 or later (this is $(node --version))" >&2
  exit 1
fi

TARBALL="${CIPHERDROP_TARBALL:-}"
if [ -z "$TARBALL" ]; then
  "$ROOT/scripts/build-wasm.sh" --pack
  TARBALL="$(ls "$ROOT"/wasm/pkg/cipherdrop-*.tgz)"
fi
if [ -z "${CIPHERDROP_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -p cipherdrop-server --bin cipherdrop --locked)
  export CIPHERDROP_BIN="$CARGO_TARGET_DIR/debug/cipherdrop"
fi

cd "$HERE"
rm -rf node_modules
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$TARBALL"
node --test --test-concurrency=1
